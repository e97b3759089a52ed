# FMA-WSSS (CLIP + SAM seeds) on VOC 2012 aug: prompts of a frozen CLIP trained by the multi-label
# contrastive and CAM activation losses; docs/methods/clip_sam.md.
_base_ = [
    '../_base_/models/clip_sam_vit-b16.py', '../_base_/datasets/voc12aug_cls.py',
    '../_base_/default_runtime.py', '../_base_/schedules/poly_iter.py'
]
model = dict(head=dict(class_names=['aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow', 'dining table', 'dog', 'horse', 'motorbike', 'person', 'potted plant', 'sheep', 'sofa', 'train', 'tv monitor']))
train_dataloader = dict(batch_size=16)
max_iters = 10000
val_interval = 2000
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.001, weight_decay=0.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, begin=0, end=500, by_epoch=False),
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=500, end=max_iters, by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=val_interval, save_best='mIoU', rule='greater'))
# seeds: fine SAM seeding of the learned segmentation-prompt CAMs (tools/make_pseudo_labels.py)
label_generator = dict(
    type='CLIPSAMLabelGenerator', model=None, checkpoint=None,
    sam_type='vit_h', sam_checkpoint='checkpoints/sam_vit_h_4b8939.pth', mode='fine',
    bg_method=dict(method='pow', pow=3), bg_threshold=None,
    points_per_side=32, pred_iou_thresh=0.88)
