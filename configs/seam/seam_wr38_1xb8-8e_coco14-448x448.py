# SEAM on MS-COCO 2014 (80 classes), as arvijj/hfpl train_cam_coco.py with its losses of
# SEAM alone: the VOC recipe (batch 8, 448 crops, 8 epochs, same optimiser and augmentation)
# over train2014 (82,081 labelled images // 8 * 8 = 82,080 iterations; HFPL's own list may
# hold all 82,783: docs/methods/seam.md), network.resnet38_SEAM_coco (fc8 of 1 + 80 rows).
# ECR's top 20% counts the 81 channels, as there.
# Background threshold 0.26 (infer_cam_coco.py default; tools/test.py --split train sweeps it).
_base_ = [
    '../_base_/models/seam_wr38.py', '../_base_/datasets/coco14_cls.py',
    '../_base_/default_runtime.py', '../_base_/schedules/seam_sgd_poly.py'
]
crop_size = (448, 448)
model = dict(head=dict(num_classes=80))
train_pipeline = {{_base_.seam_train_pipeline}}
train_dataloader = dict(batch_size=8, dataset=dict(pipeline=train_pipeline))
max_iters = 82080
val_interval = 10260
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters, by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(checkpoint=dict(interval=val_interval, save_best='mIoU', rule='greater'))
label_generator = dict(type='CAMLabelGenerator', model=None, checkpoint=None, bg_threshold=0.26)
# GPU speed switches (see configs/_base_/default_runtime.py); fp32: --precision fp32
train_precision = 'bf16'
channels_last = True
