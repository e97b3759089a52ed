# MS-COCO 2014 (80 classes + background), image-level labels. Layout: docs/datasets.md.
_base_ = './voc12aug_cls.py'
dataset_type = 'COCOImageLevelDataset'
data_root = 'data/coco2014'
_train = dict(img_path='train2014', seg_map_path='SegmentationClass/train2014')
train_dataloader = dict(dataset=dict(
    type=dataset_type, data_root=data_root, data_prefix=dict(img_path='train2014'),
    ann_file='ImageSets/train2014.txt'))
_train_split = dict(type=dataset_type, data_root=data_root, data_prefix=_train,
                    ann_file='ImageSets/train2014.txt')
# validation during training: CAMs of the first 5,000 train2014 images (all 82,783 at four
# scales + flip would take longer than the training between two validations);
# tools/test.py scores all of them
val_dataloader = dict(dataset=dict(_train_split, indices=5000))
test_dataloader = dict(dataset=_train_split)
pseudo_label_dataloader = dict(dataset=dict(
    type=dataset_type, data_root=data_root, data_prefix=_train,
    ann_file='ImageSets/train2014.txt'))
