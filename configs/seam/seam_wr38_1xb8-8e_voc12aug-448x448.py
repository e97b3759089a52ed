# SEAM on VOC 2012 aug with the paper's schedule (YudeWang/SEAM train_SEAM.py): batch 8,
# 448 crops, 8 epochs of train_aug (10,582 // 8 * 8 = 10,576 iterations); optimiser in
# _base_/schedules/seam_sgd_poly.py, augmentation in _base_/models/seam_wr38.py.
# Background threshold 0.26 (infer_SEAM.py default; tools/test.py --split train sweeps it).
_base_ = [
    '../_base_/models/seam_wr38.py', '../_base_/datasets/voc12aug_cls.py',
    '../_base_/default_runtime.py', '../_base_/schedules/seam_sgd_poly.py'
]
crop_size = (448, 448)
train_pipeline = {{_base_.seam_train_pipeline}}
train_dataloader = dict(batch_size=8, dataset=dict(pipeline=train_pipeline))
max_iters = 10576
val_interval = 1322
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters, by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(checkpoint=dict(interval=val_interval, save_best='mIoU', rule='greater'))
label_generator = dict(type='CAMLabelGenerator', model=None, checkpoint=None, bg_threshold=0.26)
# GPU speed switches (see configs/_base_/default_runtime.py); fp32: --precision fp32
train_precision = 'bf16'
channels_last = True
