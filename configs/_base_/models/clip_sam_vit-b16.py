# FMA-WSSS prompt learning: frozen CLIP ViT-B/16 with learnable classification and
# segmentation prompts (16 context vectors each), Grad-CAMs over foreground + background prompts,
# class-aware attention refinement and SAM seeding. Official settings (HAL-42/FMA-WSSS):
# configs/clip_cam/base.py, configs/VOC/cls/cfg.py, configs/VOC/seg/cfg.py,
# configs/patterns/voc_names/clip_es.py. Weights are local files (docs/methods/clip_sam.md).
data_preprocessor = dict(
    type='mmwsss.BatchedSegDataPreProcessor',
    mean=[122.771, 116.746, 104.094],  # CLIP's mean/std (×255), RGB
    std=[68.501, 66.632, 70.323],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=(512, 512),  # the dataset crop
    # test images padded to a multiple of the 16-px patch (as the official inference), so the
    # patch grid covers every pixel; CAMs are cropped back to each image
    test_cfg=dict(size_divisor=16))
# CLIP-ES background words (clip_text.py BACKGROUND_CATEGORY), the official classification task
clip_es_bg_names = [
    'ground', 'land', 'grass', 'tree', 'building', 'wall', 'sky', 'lake', 'water', 'river',
    'sea', 'railway', 'railroad', 'keyboard', 'helmet', 'cloud', 'house', 'mountain', 'ocean',
    'road', 'rock', 'street', 'valley', 'bridge', 'sign'
]
model = dict(
    type='CLIPSAMClassifier',
    data_preprocessor=data_preprocessor,
    head=dict(
        type='CLIPPromptHead',
        clip=dict(model_name='ViT-B-16-quickgelu'),  # OpenAI weights use QuickGELU
        pretrained='checkpoints/clip_vit_b16_openai.pt',
        class_names=None,  # set by the dataset config
        n_ctx=16,
        # official: classification ctx std .015 (configs/VOC/cls/cfg.py), segmentation ctx
        # drawn with std .125 (pretrains/rand_ref/coop_ctx/hash_seed/std=·125)
        ctx_std=dict(cls=0.015, seg=0.125),
        csc=dict(cls=False, seg=True),  # official VOC segmentation task: class-specific ctx
        cls_token_pos=dict(cls='end', seg='front'),
        bg_names=dict(cls=clip_es_bg_names, seg=[''] * 25),
        pool='mean',  # mean of the projected patch tokens (official GetLN1 img_emb)
        softmax_over='present'),  # official sm_fg_exist=True
    # official: MultiLabelCLLoss(gamma=None, 'pos_mean') weight 1 on the classification task
    # (it replaces the 0.1-weighted MultiLabelSoftMarginLoss of configs/clip_cam/base.py);
    # CAMIntensityLoss(l1, 'all', detach_max, bg_thresh=0), weights (1, 1), on the segmentation
    # task, where the classification loss weight is 0
    loss_cls=dict(type='MultiLabelContrastiveLoss', gamma=None, reduce='pos_mean',
                  loss_weight=1.0),
    loss_act=dict(type='CAMActivationLoss', loss_type='l1', reduce='all', detach_max=True,
                  bg_thresh=0.0, ignore_index=255, loss_weight=1.0),
    # SAM for the on-the-fly coarse seeds of stage='joint'. mask_source='auto': the official
    # multi-level masks (src/libs/sam/custom_sam/sam_auto.py: SamAuto, pattern
    # 'l2_nmsf_s1_rsw3' of configs/sam_auto_seg/patterns/mask_gen_ini.py: 32 points per side,
    # 3 levels, IoU > 0.86 (+0.1 whole objects), stability >= 0.92, NMS 0.7 favouring whole
    # objects, 1 crop layer, 100 px clean-up, rock-sand-water 0.3); keys of sam_auto override
    # the pattern. mask_source='grid': the cheaper single-mask grid (points_per_side,
    # pred_iou_thresh); it costs 1 image-encoder pass per image instead of 5.
    sam=dict(sam_type='vit_h', checkpoint='checkpoints/sam_vit_h_4b8939.pth',
             mask_source='auto', sam_auto=dict(pattern='l2_nmsf_s1_rsw3'),
             points_per_side=32, pred_iou_thresh=0.86, decoder_batch_size=64),
    # coarse SAMS: norm_first, (1 - max)^0.6 background (official VOC coarse-seed config)
    seeding=dict(mode='coarse', norm_first=True, bg_method=dict(method='pow', pow=0.6)),
    # CAA of the classification CAMs: last 8 attention maps, 1 Sinkhorn round, affinity^2,
    # boxes at 0.4, refined at the score (official configs/VOC/cls/infer/final/affx2,...)
    caa=dict(last_n_layers=8, sinkhorn_iters=1, n_iters=2, box_thresh=0.4, at='score'),
    train_cfg=dict(stage='joint'),
    test_cfg=dict(bg_threshold=0.3, cam_task='seg'))
# seeds: fine SAMS of the refined segmentation-prompt CAMs (tools/make_pseudo_labels.py);
# official VOC fine seeds: CAA at the CAM with boxes at 0.5, norm_first, pow 0.7
label_generator = dict(
    type='CLIPSAMLabelGenerator', model=None, checkpoint=None,
    sam_type='vit_h', sam_checkpoint='checkpoints/sam_vit_h_4b8939.pth', mode='fine',
    task='seg', caa=dict(last_n_layers=8, sinkhorn_iters=1, n_iters=2, box_thresh=0.5, at='cam'),
    norm_first=True, bg_method=dict(method='pow', pow=0.7), bg_threshold=None,
    # official SamAuto masks (see model.sam); mask_source='grid' uses points_per_side /
    # pred_iou_thresh instead
    mask_source='auto', sam_auto=dict(pattern='l2_nmsf_s1_rsw3'),
    points_per_side=32, pred_iou_thresh=0.86)
