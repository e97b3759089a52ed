# Prompt learning of CLIP + SAM (FMA-WSSS): AdamW on the context vectors, the only trainable
# parameters (CLIP and SAM are frozen); iteration-based poly schedule; best CAM mIoU kept.
_base_ = './poly_iter.py'
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.001, weight_decay=0.0))
default_hooks = dict(logger=dict(interval=50), checkpoint=dict(save_best='mIoU', rule='greater'))
