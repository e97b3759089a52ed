# FMA-WSSS stage 2 (official configs/VOC/seg/cfg.py): the segmentation prompts only, CAM
# activation loss of their Grad-CAMs against the offline coarse seeds of stage 1 (read as
# segmentation labels), present classes from the cropped seed (official ol_cls_lb), 17000
# iterations (500 warm-up), batch 16, 224 crops. Then the fine seeds (pseudo-labels):
#   python tools/make_pseudo_labels.py THIS_CONFIG work_dirs/.../iter_17000.pth --out ...
_base_ = ['./clip-sam_vit-b16-vit-h_1xb16-10k_voc12aug-512x512.py']
crop_size = (224, 224)
model = dict(data_preprocessor=dict(size=crop_size), sam=None, caa=None,
             train_cfg=dict(stage='seg', labels_from_seed=True), test_cfg=dict(cam_task='seg'))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='LoadImageLevelLabels'),
    dict(type='RandomResize', scale=(480, 480), ratio_range=(0.6, 1.0), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='PackCAMInputs'),
]
train_dataloader = dict(batch_size=16, dataset=dict(
    type='PseudoLabelDataset',
    data_prefix=dict(img_path='JPEGImages', seg_map_path='PseudoLabels/clip_sam_coarse'),
    pipeline=train_pipeline))
max_iters = 17000
val_interval = 2000
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(checkpoint=dict(interval=val_interval))
