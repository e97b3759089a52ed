# A small ResNet-18 (widths 16/32/64/128, output stride 8) for the synthetic set, from scratch.
_base_ = './cam_r50.py'
model = dict(
    data_preprocessor=dict(size=(96, 96)),
    backbone=dict(
        _delete_=True,
        type='ResNet',
        depth=18,
        stem_channels=16,
        base_channels=16,
        num_stages=4,
        out_indices=(3, ),
        strides=(1, 2, 1, 1),
        dilations=(1, 1, 2, 4),
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        style='pytorch',
        contract_dilation=True),
    head=dict(in_channels=128, num_classes=5),
    test_cfg=dict(scales=(1.0, 0.5, 1.5), flip=True, bg_threshold=0.25))
