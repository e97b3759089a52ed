# Small DeepLab-v2 on the synthetic set trained on pseudo-labels (the demo's WSSS segmenter).
# seg_map_path: the folder tools/make_pseudo_labels.py wrote (relative to data_root or absolute).
_base_ = './deeplabv2_r18-w16_1xb16-1000it_synthetic-gt-96x96.py'
train_dataloader = dict(dataset=dict(
    type='SyntheticPseudoLabelDataset',
    data_prefix=dict(img_path='JPEGImages', seg_map_path='PseudoLabels')))
