# FMA-WSSS (CLIP + SAM seeds) on COCO 2014, trained jointly (stage='joint'); the official
# code trains in two stages (classification 20500 iterations, segmentation 75000 with
# gradient accumulation 8); docs/methods/clip_sam.md.
_base_ = [
    '../_base_/models/clip_sam_vit-b16.py', '../_base_/datasets/coco14_cls.py',
    '../_base_/default_runtime.py', '../_base_/schedules/clip_sam_prompts.py'
]
# official class prompts: CLIP-ES's COCO names (configs/patterns/coco_names/clip_es.py)
coco_clip_es_names = ['person with clothes,people,human', 'bicycle', 'car', 'motorbike', 'aeroplane', 'bus', 'train', 'truck', 'boat', 'traffic light', 'fire hydrant', 'stop sign', 'parking meter', 'bench', 'bird avian', 'cat', 'dog', 'horse', 'sheep', 'cow', 'elephant', 'bear', 'zebra', 'giraffe', 'backpack,bag', 'umbrella,parasol', 'handbag,purse', 'necktie', 'suitcase', 'frisbee', 'skis', 'sknowboard', 'sports ball', 'kite', 'baseball bat', 'glove', 'skateboard', 'surfboard', 'tennis racket', 'bottle', 'wine glass', 'cup', 'fork', 'knife', 'dessertspoon', 'bowl', 'banana', 'apple', 'sandwich', 'orange', 'broccoli', 'carrot', 'hot dog', 'pizza', 'donut', 'cake', 'chair seat', 'sofa', 'pottedplant', 'bed', 'diningtable', 'toilet', 'tvmonitor screen', 'laptop', 'mouse', 'remote control', 'keyboard', 'cell phone', 'microwave', 'oven', 'toaster', 'sink', 'refrigerator', 'book', 'clock', 'vase', 'scissors', 'teddy bear', 'hairdrier,blowdrier', 'toothbrush']
# official COCO: CLIP-ES background words without 'keyboard' and 'sign' for both tasks; the
# segmentation task uses a shared context at the end (configs/COCO/seg/cfg.py)
coco_bg_names = ['ground', 'land', 'grass', 'tree', 'building', 'wall', 'sky', 'lake', 'water', 'river', 'sea', 'railway', 'railroad', 'helmet', 'cloud', 'house', 'mountain', 'ocean', 'road', 'rock', 'street', 'valley', 'bridge']
model = dict(
    head=dict(class_names=coco_clip_es_names, bg_names=dict(cls=coco_bg_names, seg=coco_bg_names),
              csc=dict(cls=False, seg=False), cls_token_pos=dict(cls='end', seg='end'),
              ctx_std=dict(cls=0.015, seg=0.015)),
    # official COCO coarse seeds: CAA at the CAM, boxes at 0.6, SAMS pow swept over .3/.4/.5
    caa=dict(last_n_layers=8, sinkhorn_iters=1, n_iters=2, box_thresh=0.6, at='cam'),
    seeding=dict(bg_method=dict(method='pow', pow=0.4)))
# official COCO fine seeds: no CAA (configs/COCO/seg/infer/45k/ann/cfg.py), SAMS pow 1
label_generator = dict(caa=False, bg_method=dict(method='pow', pow=1.0))
train_dataloader = dict(batch_size=16)
max_iters = 40000
warmup_iters = 1000  # official COCO warm-up (configs/clip_cam/_patches/coco.py)
val_interval = 5000
param_scheduler = [
    dict(type='ConstantLR', factor=0.01, begin=0, end=warmup_iters + 1, by_epoch=False),
    dict(type='CosineAnnealingLR', eta_min=0.0, begin=warmup_iters, by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(checkpoint=dict(interval=val_interval))
# GPU speed switch (the official code trains under fp16 autocast); fp32: --precision fp32.
# channels_last stays off: a ViT has one convolution.
train_precision = 'bf16'
