# FMA-WSSS on the built-in synthetic set with a tiny random CLIP and a tiny SAM (CPU pipeline
# check; set model.sam.checkpoint and label_generator.sam_checkpoint to a tiny SAM file).
# Joint training (stage='joint'); the official two-stage schedule is in the VOC configs.
_base_ = [
    '../_base_/models/clip_sam_tiny.py', '../_base_/datasets/synthetic_voc_cls.py',
    '../_base_/default_runtime.py', '../_base_/schedules/clip_sam_prompts.py'
]
model = dict(head=dict(class_names=['disk', 'square', 'triangle', 'ring', 'cross']))
max_iters = 1000
warmup_iters = 100
val_interval = 500
optim_wrapper = dict(optimizer=dict(lr=0.002))
param_scheduler = [
    dict(type='ConstantLR', factor=0.01, begin=0, end=warmup_iters + 1, by_epoch=False),
    dict(type='CosineAnnealingLR', eta_min=0.0, begin=warmup_iters, by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(checkpoint=dict(interval=val_interval))
