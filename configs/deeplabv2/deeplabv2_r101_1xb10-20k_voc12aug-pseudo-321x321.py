# DeepLab-v2 (ResNet-101, ASPP-v2) trained on pseudo-labels of VOC train_aug, judged on val.
# DeepLab-v2's schedule: batch 10, 321×321 crops, 20k iterations, SGD lr 2.5e-4 (×10 on the
# head's weights, ×20 and no weight decay on its biases, as DeepLab-v2's Caffe model), momentum
# 0.9, weight decay 5e-4, poly 0.9; loss averaged over labelled pixels
# (_base_/models/deeplabv2_r101.py). Point seg_map_path at your labels:
#   --cfg-options train_dataloader.dataset.data_prefix.seg_map_path=PseudoLabels/cam_r50
# (relative to data_root, or absolute).
_base_ = [
    '../_base_/models/deeplabv2_r101.py', '../_base_/datasets/voc12aug_seg.py',
    '../_base_/default_runtime.py', '../_base_/schedules/poly_iter.py'
]
default_scope = 'mmseg'  # a stock mmseg segmenter; mmwsss parts by their 'mmwsss.' names
model = dict(
    data_preprocessor=dict(type='mmwsss.BatchedSegDataPreProcessor'),  # async copies
    decode_head=dict(type='mmwsss.DeepLabV2Head'))
train_dataloader = dict(dataset=dict(
    type='mmwsss.PseudoLabelDataset',
    data_prefix=dict(img_path='JPEGImages', seg_map_path='PseudoLabels')))
val_dataloader = dict(dataset=dict(type='mmwsss.VOCImageLevelDataset'))
test_dataloader = val_dataloader
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=2.5e-4, momentum=0.9, weight_decay=5e-4),
    paramwise_cfg=dict(custom_keys={
        'decode_head': dict(lr_mult=10.0),
        # the longer key wins: each ASPP branch's bias (rates 6/12/18/24)
        **{f'decode_head.aspp.{i}.bias': dict(lr_mult=20.0, decay_mult=0.0) for i in range(4)}}))
# GPU speed switches (see configs/_base_/default_runtime.py); fp32: --precision fp32
train_precision = 'bf16'
channels_last = True
