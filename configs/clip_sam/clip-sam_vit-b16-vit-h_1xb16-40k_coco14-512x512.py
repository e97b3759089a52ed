# FMA-WSSS (CLIP + SAM seeds) on COCO 2014: prompts of a frozen CLIP trained by the multi-label
# contrastive and CAM activation losses; docs/methods/clip_sam.md.
_base_ = [
    '../_base_/models/clip_sam_vit-b16.py', '../_base_/datasets/coco14_cls.py',
    '../_base_/default_runtime.py', '../_base_/schedules/poly_iter.py'
]
model = dict(head=dict(class_names=['person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck', 'boat', 'traffic light', 'fire hydrant', 'stop sign', 'parking meter', 'bench', 'bird', 'cat', 'dog', 'horse', 'sheep', 'cow', 'elephant', 'bear', 'zebra', 'giraffe', 'backpack', 'umbrella', 'handbag', 'tie', 'suitcase', 'frisbee', 'skis', 'snowboard', 'sports ball', 'kite', 'baseball bat', 'baseball glove', 'skateboard', 'surfboard', 'tennis racket', 'bottle', 'wine glass', 'cup', 'fork', 'knife', 'spoon', 'bowl', 'banana', 'apple', 'sandwich', 'orange', 'broccoli', 'carrot', 'hot dog', 'pizza', 'donut', 'cake', 'chair', 'couch', 'potted plant', 'bed', 'dining table', 'toilet', 'tv', 'laptop', 'mouse', 'remote', 'keyboard', 'cell phone', 'microwave', 'oven', 'toaster', 'sink', 'refrigerator', 'book', 'clock', 'vase', 'scissors', 'teddy bear', 'hair drier', 'toothbrush']))
train_dataloader = dict(batch_size=16)
max_iters = 40000
val_interval = 5000
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=0.001, weight_decay=0.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, begin=0, end=1000, by_epoch=False),
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=1000, end=max_iters, by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=val_interval, save_best='mIoU', rule='greater'))
# seeds: fine SAM seeding of the learned segmentation-prompt CAMs (tools/make_pseudo_labels.py)
label_generator = dict(
    type='CLIPSAMLabelGenerator', model=None, checkpoint=None,
    sam_type='vit_h', sam_checkpoint='checkpoints/sam_vit_h_4b8939.pth', mode='fine',
    bg_method=dict(method='pow', pow=3), bg_threshold=None,
    points_per_side=32, pred_iou_thresh=0.88)
