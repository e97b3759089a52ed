# FMA-WSSS (CLIP + SAM seeds) on VOC 2012 aug, trained jointly (stage='joint': both prompt sets
# in one run, coarse seeds made on the fly). The official code trains in two stages:
# clip-sam_vit-b16_1xb16-1800it_voc12aug-cls-224x224.py then
# clip-sam_vit-b16_1xb16-17k_voc12aug-seg-224x224.py; docs/methods/clip_sam.md.
_base_ = [
    '../_base_/models/clip_sam_vit-b16.py', '../_base_/datasets/voc12aug_cls.py',
    '../_base_/default_runtime.py', '../_base_/schedules/clip_sam_prompts.py'
]
# official class prompts: CLIP-ES's "new_class_names" (configs/patterns/voc_names/clip_es.py)
voc_clip_es_names = ['aeroplane', 'bicycle', 'bird avian', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair seat', 'cow', 'diningtable', 'dog', 'horse', 'motorbike', 'person with clothes,people,human', 'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor screen']
model = dict(head=dict(class_names=voc_clip_es_names))
train_dataloader = dict(batch_size=16)
max_iters = 10000
val_interval = 2000
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(checkpoint=dict(interval=val_interval))
# GPU speed switch (the official code trains under fp16 autocast); fp32: --precision fp32.
# channels_last stays off: a ViT has one convolution.
train_precision = 'bf16'
