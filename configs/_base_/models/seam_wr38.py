# SEAM (Wang et al. 2020): WideResNet-38 → CAM head (dropout 0.5, no bias) + PCM neck on
# conv4/conv5, siamese training with a 0.3 rescale, cls + ER + ECR (+ the official min loss).
# SEAM's training input (train_SEAM.py, the same for VOC and COCO): long side 448–768, flip,
# ColorJitter(0.3, 0.3, 0.3, 0.1), 448 crop. A config applies it to its dataset with
# train_pipeline = {{_base_.seam_train_pipeline}} and
# train_dataloader = dict(batch_size=8, dataset=dict(pipeline=train_pipeline)).
seam_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadImageLevelLabels'),
    dict(type='RandomResize', scale=(448, 448), ratio_range=(1.0, 768 / 448), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='ColorJitter', brightness=0.3, contrast=0.3, saturation=0.3, hue=0.1),
    dict(type='RandomCrop', crop_size=(448, 448)),
    dict(type='PackCAMInputs'),
]
data_preprocessor = dict(
    type='BatchedSegDataPreProcessor',  # + mixed-size test batches, async copies
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=(448, 448))  # training batches are padded to the crop size
model = dict(
    type='EquivariantCAMClassifier',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='ResNet38d',
        out_indices=(1, 2, 3),  # conv4, conv5 (for PCM), conv6 (for the head)
        frozen_stages=1,
        norm_eval=True,
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/resnet38d-imagenet.pth')),
    head=dict(
        type='CAMHead',
        in_channels=4096,
        num_classes=20,
        in_index=-1,
        pooling=dict(type='gap'),
        dropout_ratio=0.5,
        bias=False,
        loss_cls=dict(type='MultiLabelSoftMarginLoss', loss_weight=1.0)),
    cam_neck=dict(type='PCMNeck', in_channels=(512, 1024), in_index=(0, 1),
                  feat_channels=(64, 128), out_channels=192),
    transform=dict(type='RescaleTransform', scale=0.3),
    loss_er=dict(type='EquivariantRegularizationLoss', loss_weight=1.0),
    loss_ecr=dict(type='EquivariantCrossRegularizationLoss', topk_ratio=0.2, loss_weight=1.0),
    loss_min=dict(type='AdaptiveMinPoolingLoss', ratio=0.25, loss_weight=1.0),
    # infer_SEAM.py: PIL bicubic scales, CAMs upsampled via each scale's input, min-max norm
    test_cfg=dict(scales=(1.0, 0.5, 1.5, 2.0), flip=True, bg_threshold=0.26, norm='min_max',
                  scale_mode='pil_bicubic', upsample_via_scaled_input=True))
