# Synthetic set (tools/make_synthetic_voc.py), image-level labels for CAM training: the VOC
# dataset config with the synthetic set's class, root, sizes and splits.
_base_ = './voc12aug_cls.py'
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
_dataset = dict(type=dataset_type, data_root=data_root)
train_dataloader = dict(num_workers=2, pin_memory=False, dataset=dict(**_dataset, pipeline=train_pipeline))
# CAMs are judged on the train split (the segmenter on val), as WSSS papers do
val_dataloader = dict(num_workers=2, dataset=_dataset)
test_dataloader = dict(num_workers=2, dataset=dict(
    **_dataset, ann_file='ImageSets/Segmentation/train_aug.txt'))
pseudo_label_dataloader = dict(num_workers=2, dataset=_dataset)
# boundary F-score (HFPL's contour measure) every 0.05 of the background threshold (0.05-0.95)
val_evaluator = dict(type='CAMMetric', boundary_thresholds=[i / 20 for i in range(1, 20)])
test_evaluator = val_evaluator
