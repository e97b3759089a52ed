# SEAM's optimiser (YudeWang/SEAM train_SEAM.py; arvijj/hfpl train_cam_voc.py and
# train_cam_coco.py use the same): SGD, poly lr (power 0.9), lr 0.01 on the pretrained backbone
# and 0.1 on the new layers (head, PCM), weight decay 5e-4. The official PolyOptimizer passes
# weight_decay into SGD's momentum slot, so it trains with momentum 5e-4 (in effect none); kept
# here to reproduce it.
_base_ = './poly_iter.py'
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.01, momentum=5e-4, weight_decay=5e-4),
    paramwise_cfg=dict(custom_keys={'head': dict(lr_mult=10.0), 'cam_neck': dict(lr_mult=10.0)}))
