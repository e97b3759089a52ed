# Synthetic set (tools/make_synthetic_voc.py), image-level labels for CAM training.
dataset_type = 'SyntheticVOCDataset'
data_root = 'data/synthetic_voc'
crop_size = (96, 96)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadImageLevelLabels'),
    dict(type='RandomResize', scale=(96, 96), ratio_range=(0.8, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion', brightness_delta=16, contrast_range=(0.8, 1.2),
         saturation_range=(0.8, 1.2), hue_delta=6),
    dict(type='PackCAMInputs'),
]
# CAM evaluation / pseudo-labelling: original size, masks only for the metric
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='LoadImageLevelLabels'),
    dict(type='PackCAMInputs'),
]
_data_prefix = dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug')
train_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, data_prefix=dict(img_path='JPEGImages'),
                 ann_file='ImageSets/Segmentation/train_aug.txt',
                 img_labels_file='cls_labels.json', require_masks=False,
                 pipeline=train_pipeline))
# CAMs are judged on the train split, as WSSS papers do (the segmenter is judged on val)
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, data_prefix=_data_prefix,
                 ann_file='ImageSets/Segmentation/train.txt', pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, data_prefix=_data_prefix,
                 ann_file='ImageSets/Segmentation/train_aug.txt', pipeline=test_pipeline))
pseudo_label_dataloader = test_dataloader
# boundary F-score (HFPL's contour measure) every 0.05 of the background threshold
val_evaluator = dict(type='CAMMetric', boundary_thresholds=[i / 20 for i in range(1, 12)])
test_evaluator = val_evaluator
