# SEAM on VOC 2012 aug with the paper's schedule (YudeWang/SEAM train_SEAM.py): batch 8,
# 448 crops, 8 epochs of train_aug (10,582 // 8 * 8 = 10,576 iterations), SGD poly 0.9,
# lr 0.01 on the pretrained backbone and 0.1 on the new layers (head, PCM), weight decay 5e-4.
# Augmentation: long side 448–768, flip, ColorJitter(0.3, 0.3, 0.3, 0.1), crop 448.
# Background threshold 0.26 (infer_SEAM.py default; tools/test.py --split train sweeps it).
_base_ = [
    '../_base_/models/seam_wr38.py', '../_base_/datasets/voc12aug_cls.py',
    '../_base_/default_runtime.py', '../_base_/schedules/poly_iter.py'
]
crop_size = (448, 448)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadImageLevelLabels'),
    dict(type='RandomResize', scale=(448, 448), ratio_range=(1.0, 768 / 448), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='ColorJitter', brightness=0.3, contrast=0.3, saturation=0.3, hue=0.1),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='PackCAMInputs'),
]
train_dataloader = dict(batch_size=8, dataset=dict(pipeline=train_pipeline))
max_iters = 10576
val_interval = 1322
# The official PolyOptimizer passes weight_decay into SGD's momentum slot, so it trains with
# momentum 5e-4 (in effect none); kept here to reproduce it.
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.01, momentum=5e-4, weight_decay=5e-4),
    paramwise_cfg=dict(custom_keys={'head': dict(lr_mult=10.0), 'cam_neck': dict(lr_mult=10.0)}))
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters, by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(checkpoint=dict(interval=val_interval, save_best='mIoU', rule='greater'))
label_generator = dict(type='CAMLabelGenerator', model=None, checkpoint=None, bg_threshold=0.26)
# GPU speed switches (see configs/_base_/default_runtime.py); fp32: --precision fp32
train_precision = 'bf16'
channels_last = True
