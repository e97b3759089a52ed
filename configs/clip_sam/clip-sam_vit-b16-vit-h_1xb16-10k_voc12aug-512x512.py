# FMA-WSSS (CLIP + SAM seeds) on VOC 2012 aug: prompts of a frozen CLIP trained by the multi-label
# contrastive and CAM activation losses; docs/methods/clip_sam.md.
_base_ = [
    '../_base_/models/clip_sam_vit-b16.py', '../_base_/datasets/voc12aug_cls.py',
    '../_base_/default_runtime.py', '../_base_/schedules/clip_sam_prompts.py'
]
model = dict(head=dict(class_names=['aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow', 'dining table', 'dog', 'horse', 'motorbike', 'person', 'potted plant', 'sheep', 'sofa', 'train', 'tv monitor']))
train_dataloader = dict(batch_size=16)
max_iters = 10000
val_interval = 2000
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, begin=0, end=500, by_epoch=False),
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=500, end=max_iters, by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(checkpoint=dict(interval=val_interval))
