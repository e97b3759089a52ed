# DeepLab-v2 (ResNet-101, ASPP-v2) trained on pseudo-labels of COCO 2014 train (82,081 images
# with annotations), judged on val2014 (40,137 with annotations) with the masks of
# tools/dataset_converters/coco_to_semantic.py. Same network, optimiser and precision as the
# VOC config; the schedule is the one WSSS COCO work uses for DeepLab-v2 (deeplab-pytorch's
# COCO recipe: batch 10, 100k iterations, lr 2.5e-4, poly 0.9) with RIB's 481×481 crops.
# Point seg_map_path at your labels:
#   --cfg-options train_dataloader.dataset.data_prefix.seg_map_path=PseudoLabels_gsam
_base_ = './deeplabv2_r101_1xb10-20k_voc12aug-pseudo-321x321.py'
data_root = 'data/coco2014'
crop_size = (481, 481)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    # COCO images are at most 640 px: random scale 0.5-1.5 of the original size
    dict(type='RandomResize', scale=(640, 640), ratio_range=(0.5, 1.5), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
model = dict(data_preprocessor=dict(size=crop_size), decode_head=dict(num_classes=81))
train_dataloader = dict(dataset=dict(
    type='mmwsss.COCOPseudoLabelDataset', data_root=data_root,
    data_prefix=dict(img_path='train2014', seg_map_path='PseudoLabels'),
    ann_file='ImageSets/train2014.txt', pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(
    type='mmwsss.COCOImageLevelDataset', data_root=data_root,
    data_prefix=dict(img_path='val2014', seg_map_path='SegmentationClass/val2014'),
    ann_file='ImageSets/val2014.txt'))
test_dataloader = val_dataloader
max_iters = 100000
val_interval = 20000  # val2014 has 40k images: five evaluations per run
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters, by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(checkpoint=dict(interval=val_interval))
