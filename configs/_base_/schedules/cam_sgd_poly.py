# IRN's CAM recipe (Ahn et al. 2019, jiwoon-ahn/irn, step/train_cam.py): SGD, poly lr, lr 0.1 on
# the new classifier and 0.01 on the pretrained backbone, weight decay 1e-4.
_base_ = './poly_iter.py'
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(custom_keys={'head': dict(lr_mult=10.0)}))
