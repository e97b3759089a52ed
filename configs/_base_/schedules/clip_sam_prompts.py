# Prompt learning of CLIP + SAM (FMA-WSSS), the official optimiser and schedule
# (HAL-42/FMA-WSSS configs/clip_cam/base.py, src/tasks/train_coop/run.py): SGD on the context
# vectors only (CLIP and SAM are frozen), lr 1e-3, momentum 0.9, weight decay 5e-4, batch 16;
# 500 warm-up iterations at a constant 1e-5 (official LinearLR with start = end factor
# 1e-5 / 1e-3), then cosine annealing from 1e-3 to 0 over the remaining iterations.
# The cosine phase ends at train_cfg.max_iters (the Runner fills in `end`; T_max = end - begin),
# so a child that changes only max_iters keeps this list; one that changes warmup_iters
# restates it.
_base_ = './poly_iter.py'
max_iters = 17000  # official VOC segmentation task; classification task 1800
warmup_iters = 500
val_interval = 2000
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.001, momentum=0.9, weight_decay=5e-4))
param_scheduler = [
    # ConstantLR restores the lr at its `end`: end = warmup_iters + 1 gives 1e-5 for iterations
    # 0 .. warmup_iters - 1 and 1e-3 at warmup_iters, as the official SequentialLR
    dict(type='ConstantLR', factor=0.01, begin=0, end=warmup_iters + 1, by_epoch=False),
    dict(type='CosineAnnealingLR', eta_min=0.0, begin=warmup_iters, by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(logger=dict(interval=50),
                     checkpoint=dict(interval=val_interval, save_best='mIoU', rule='greater'))
