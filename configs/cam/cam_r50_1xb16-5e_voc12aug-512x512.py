# CAM baseline on VOC 2012 aug with IRN's recipe: ResNet-50 OS16, batch 16, 512 crops,
# 5 epochs of train_aug (10,582 / 16 ≈ 661 it/epoch). CAMs judged on train (1,464).
_base_ = [
    '../_base_/models/cam_r50.py', '../_base_/datasets/voc12aug_cls.py',
    '../_base_/default_runtime.py', '../_base_/schedules/cam_sgd_poly.py'
]
max_iters = 3305
val_interval = 661
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters, by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(checkpoint=dict(interval=val_interval, save_best='mIoU', rule='greater'))
label_generator = dict(type='CAMLabelGenerator', model=None, checkpoint=None, bg_threshold=0.15)
# GPU speed switches (see configs/_base_/default_runtime.py); fp32: --precision fp32
train_precision = 'bf16'
channels_last = True
