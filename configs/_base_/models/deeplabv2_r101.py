# DeepLab-v2: ResNet-101 at output stride 8 + ASPP-v2 (rates 6/12/18/24), mmseg EncoderDecoder.
# DeepLab-v2 keeps BatchNorm frozen (statistics and affine) at its ImageNet values.
norm_cfg = dict(type='BN', requires_grad=False)
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=(321, 321))  # training batches are padded to the crop size
model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='ResNet',  # torchvision-compatible keys
        depth=101,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        strides=(1, 2, 1, 1),
        dilations=(1, 1, 2, 4),
        norm_cfg=norm_cfg,
        norm_eval=True,
        style='pytorch',
        contract_dilation=True,
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/resnet101-imagenet.pth')),
    decode_head=dict(
        type='DeepLabV2Head',
        in_channels=2048,
        in_index=3,
        dilations=(6, 12, 18, 24),
        num_classes=21,
        dropout_ratio=0,
        norm_cfg=norm_cfg,
        align_corners=False,
        # the mean over labelled pixels, as DeepLab-v2 (Caffe's VALID normalisation) and the
        # WSSS final stages (arvijj/hfpl train_final_voc.py: CrossEntropyLoss(ignore_index=255))
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0,
                         avg_non_ignore=True)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
