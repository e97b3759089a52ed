# MS-COCO 2014 (80 classes + background), image-level labels. Layout: docs/datasets.md.
_base_ = './voc12aug_cls.py'
dataset_type = 'COCOImageLevelDataset'
data_root = 'data/coco2014'
_train = dict(img_path='train2014', seg_map_path='SegmentationClass/train2014')
train_dataloader = dict(dataset=dict(
    type=dataset_type, data_root=data_root, data_prefix=dict(img_path='train2014'),
    ann_file='ImageSets/train2014.txt'))
val_dataloader = dict(dataset=dict(
    type=dataset_type, data_root=data_root, data_prefix=_train,
    ann_file='ImageSets/train2014.txt'))
test_dataloader = val_dataloader
pseudo_label_dataloader = dict(dataset=dict(
    type=dataset_type, data_root=data_root, data_prefix=_train,
    ann_file='ImageSets/train2014.txt'))
