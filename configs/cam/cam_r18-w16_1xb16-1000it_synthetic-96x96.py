# CAM baseline on the built-in synthetic set: small ResNet-18 from scratch, 2 CPU cores.
_base_ = [
    '../_base_/models/cam_r18-w16.py', '../_base_/datasets/synthetic_voc_cls.py',
    '../_base_/default_runtime.py', '../_base_/schedules/poly_iter.py'
]
max_iters = 1000
val_interval = 500
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-3, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, begin=0, end=100, by_epoch=False),
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=100, end=max_iters, by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=val_interval, save_best='mIoU', rule='greater'))
label_generator = dict(type='CAMLabelGenerator', model=None, checkpoint=None, bg_threshold=0.25)
