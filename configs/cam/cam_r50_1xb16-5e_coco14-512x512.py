# CAM baseline on MS-COCO 2014 (80 classes): the VOC recipe over train2014 (82,081 images).
_base_ = [
    '../_base_/models/cam_r50.py', '../_base_/datasets/coco14_cls.py',
    '../_base_/default_runtime.py', '../_base_/schedules/cam_sgd_poly.py'
]
max_iters = 25650
val_interval = 5130
model = dict(head=dict(num_classes=80))
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters, by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(checkpoint=dict(interval=val_interval, save_best='mIoU', rule='greater'))
label_generator = dict(type='CAMLabelGenerator', model=None, checkpoint=None, bg_threshold=0.15)
# GPU speed switches (see configs/_base_/default_runtime.py); fp32: --precision fp32
train_precision = 'bf16'
channels_last = True
