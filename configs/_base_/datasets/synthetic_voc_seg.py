# The synthetic set for segmentation training (true masks by default), judged on its val split.
_base_ = './voc12aug_seg.py'
dataset_type = 'SyntheticVOCDataset'
data_root = 'data/synthetic_voc'
crop_size = (96, 96)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=(96, 96), ratio_range=(0.8, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    batch_size=16,
    num_workers=2,
    dataset=dict(type=dataset_type, data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(num_workers=2, dataset=dict(type=dataset_type, data_root=data_root))
test_dataloader = val_dataloader
