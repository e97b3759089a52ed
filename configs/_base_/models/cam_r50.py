# CAM baseline: ResNet-50 (output stride 16, as IRN's resnet50_cam) → 1×1 classifier → GAP.
data_preprocessor = dict(
    type='BatchedSegDataPreProcessor',  # + mixed-size test batches, async copies
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=(512, 512))  # training batches are padded to the crop size
model = dict(
    type='CAMClassifier',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='ResNet',  # torchvision-compatible keys: ImageNet weights load as they are
        depth=50,
        num_stages=4,
        out_indices=(3, ),
        strides=(1, 2, 2, 1),
        dilations=(1, 1, 1, 1),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=False),
        norm_eval=True,
        style='pytorch',
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/resnet50-imagenet.pth')),
    head=dict(
        type='CAMHead',
        in_channels=2048,
        num_classes=20,
        pooling=dict(type='gap'),
        loss_cls=dict(type='MultiLabelSoftMarginLoss', loss_weight=1.0)),
    test_cfg=dict(scales=(1.0, 0.5, 1.5, 2.0), flip=True, bg_threshold=0.15))
