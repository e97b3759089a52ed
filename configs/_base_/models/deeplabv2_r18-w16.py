# DeepLab-v2 with the small ResNet-18 of the synthetic set; ASPP rates scaled to its 12×12 maps.
_base_ = './deeplabv2_r101.py'
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    data_preprocessor=dict(size=(96, 96)),
    backbone=dict(
        _delete_=True,
        type='ResNet',
        depth=18,
        stem_channels=16,
        base_channels=16,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        strides=(1, 2, 1, 1),
        dilations=(1, 1, 2, 4),
        norm_cfg=norm_cfg,
        norm_eval=False,
        style='pytorch',
        contract_dilation=True),
    decode_head=dict(in_channels=128, dilations=(1, 2, 3, 4), num_classes=6, norm_cfg=norm_cfg))
