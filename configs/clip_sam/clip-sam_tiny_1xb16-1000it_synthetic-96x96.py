# FMA-WSSS on the built-in synthetic set with a tiny random CLIP and a tiny SAM (CPU pipeline
# check; set model.sam.checkpoint and label_generator.sam_checkpoint to a tiny SAM file).
_base_ = [
    '../_base_/models/clip_sam_tiny.py', '../_base_/datasets/synthetic_voc_cls.py',
    '../_base_/default_runtime.py', '../_base_/schedules/clip_sam_prompts.py'
]
model = dict(head=dict(class_names=['disk', 'square', 'triangle', 'ring', 'cross']))
max_iters = 1000
val_interval = 500
optim_wrapper = dict(optimizer=dict(lr=0.002))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, begin=0, end=100, by_epoch=False),
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=100, end=max_iters, by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(checkpoint=dict(interval=val_interval))
