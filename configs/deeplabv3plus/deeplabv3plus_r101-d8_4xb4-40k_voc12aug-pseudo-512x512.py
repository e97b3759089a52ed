# mmseg's own DeepLab-v3+ config (ResNet-101-D8, 4 GPUs x 4 images, 40k iterations, 512x512),
# trained on pseudo-labels of VOC train_aug and judged on val with the true masks, as mmseg
# judges it. Only the training set changes: model, schedule, pipelines and evaluation are
# mmseg's (`mmseg::` inherits from the config files mmseg installs). The same three changes
# put pseudo-labels into any mmseg config: see "Pseudo-labels in any mmseg config" in README.
# Point seg_map_path at your labels (relative to data_root, or absolute):
#   --cfg-options train_dataloader.dataset.data_prefix.seg_map_path=PseudoLabels/grounded_sam
# One GPU: tools/train.py; four: bash tools/dist_train.sh CONFIG 4 (mmseg's batch 4 per GPU).
_base_ = ['mmseg::deeplabv3plus/deeplabv3plus_r101-d8_4xb4-40k_voc12aug-512x512.py']
custom_imports = dict(imports=['mmwsss'], allow_failed_imports=False)
# 1. mmseg names its ImageNet ResNet-101-V1c by URL (open-mmlab://resnet101_v1c); mmwsss
#    never downloads: a local file (docs/checkpoints.md)
model = dict(
    pretrained=None,
    backbone=dict(init_cfg=dict(type='Pretrained',
                                checkpoint='checkpoints/resnet101_v1c-e67eebb6.pth')))
# 2. train_aug's images with labels from the pseudo-label folder (mmseg's pipeline)
train_dataloader = dict(dataset=dict(
    _delete_=True,
    type='mmwsss.PseudoLabelDataset',
    data_root={{_base_.data_root}},
    data_prefix=dict(img_path='JPEGImages', seg_map_path='PseudoLabels'),
    ann_file='ImageSets/Segmentation/train_aug.txt',
    pipeline={{_base_.train_pipeline}},
    skip_unreadable=True))  # a broken file is reported and replaced, not fatal
