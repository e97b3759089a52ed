# PASCAL VOC 2012 + SBD (train_aug 10,582 / train 1,464 / val 1,449), image-level labels.
# Layout: docs/datasets.md. Augmentation as IRN/SEAM: random rescale, flip, colour jitter, crop.
dataset_type = 'VOCImageLevelDataset'
data_root = 'data/VOCdevkit/VOC2012'
crop_size = (512, 512)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadImageLevelLabels'),
    dict(type='RandomResize', scale=(640, 640), ratio_range=(0.5, 1.0), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion', brightness_delta=32, contrast_range=(0.7, 1.3),
         saturation_range=(0.7, 1.3), hue_delta=10),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='PackCAMInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotationsIfAny'),  # the mask, where the split has one
    dict(type='LoadImageLevelLabels'),  # from img_labels_file, else from the mask
    dict(type='PackCAMInputs'),
]
_data_prefix = dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug')
train_dataloader = dict(
    batch_size=16,
    num_workers=8,
    pin_memory=True,  # with BatchedSegDataPreProcessor: copies overlap GPU work
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, data_prefix=dict(img_path='JPEGImages'),
                 ann_file='ImageSets/Segmentation/train_aug.txt',
                 img_labels_file='cls_labels.json', require_masks=False,
                 pipeline=train_pipeline,
                 skip_unreadable=True))  # a broken file is reported and replaced, not fatal
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, data_prefix=_data_prefix,
                 ann_file='ImageSets/Segmentation/train.txt', pipeline=test_pipeline))
test_dataloader = val_dataloader
# The split that gets pseudo-labels: images and cls_labels.json are all it needs (the image
# labels the CAM model trained with); masks, where present, score CAMs and labels
# (tools/test.py --split train and tools/eval_labels.py require them).
pseudo_label_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    # images of one size per batch (no padding): tools/test.py --split train scores the CAMs
    # that tools/make_pseudo_labels.py (which batches the same way) labels with
    batch_sampler=dict(type='mmwsss.SameSizeBatchSampler'),
    dataset=dict(type=dataset_type, data_root=data_root, data_prefix=_data_prefix,
                 ann_file='ImageSets/Segmentation/train_aug.txt',
                 img_labels_file='cls_labels.json', require_masks=False,
                 pipeline=test_pipeline))
val_evaluator = dict(type='CAMMetric')
test_evaluator = val_evaluator
