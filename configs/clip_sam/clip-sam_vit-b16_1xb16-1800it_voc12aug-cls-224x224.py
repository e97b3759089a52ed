# FMA-WSSS stage 1 (official configs/VOC/cls/cfg.py): the classification prompts only,
# multi-label contrastive loss, 1800 iterations (500 warm-up), batch 16, 224 crops.
# Then write the coarse seeds (classification-prompt CAMs + CAA at the score + SAMS pow 0.6):
#   python tools/make_pseudo_labels.py THIS_CONFIG work_dirs/.../iter_1800.pth \
#       --out data/VOCdevkit/VOC2012/PseudoLabels/clip_sam_coarse
# and train stage 2 (clip-sam_vit-b16_1xb16-17k_voc12aug-seg-224x224.py) on them.
_base_ = ['./clip-sam_vit-b16-vit-h_1xb16-10k_voc12aug-512x512.py']
crop_size = (224, 224)
model = dict(data_preprocessor=dict(size=crop_size), sam=None, caa=None,
             train_cfg=dict(stage='cls'), test_cfg=dict(cam_task='cls'))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadImageLevelLabels'),
    # official: random short side 224..336, long side 288..480, then a 224 crop
    dict(type='RandomResize', scale=(480, 480), ratio_range=(0.6, 1.0), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='PackCAMInputs'),
]
train_dataloader = dict(batch_size=16, dataset=dict(pipeline=train_pipeline))
label_generator = dict(
    mode='coarse', task='cls',
    caa=dict(last_n_layers=8, sinkhorn_iters=1, n_iters=2, box_thresh=0.4, at='score'),
    bg_method=dict(method='pow', pow=0.6))
max_iters = 1800
val_interval = 600
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(checkpoint=dict(interval=val_interval))
