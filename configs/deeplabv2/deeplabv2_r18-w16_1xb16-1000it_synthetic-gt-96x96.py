# Small DeepLab-v2 on the synthetic set trained on the TRUE masks: the fully-supervised
# reference of the demo (same network and schedule as the pseudo-label config).
_base_ = [
    '../_base_/models/deeplabv2_r18-w16.py', '../_base_/datasets/synthetic_voc_seg.py',
    '../_base_/default_runtime.py', '../_base_/schedules/poly_iter.py'
]
max_iters = 1000
val_interval = 1000
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-3, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, begin=0, end=100, by_epoch=False),
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=100, end=max_iters, by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(logger=dict(interval=50), checkpoint=dict(interval=val_interval))
