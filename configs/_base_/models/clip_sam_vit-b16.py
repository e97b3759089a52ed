# FMA-WSSS prompt learning: frozen CLIP ViT-B/16 with learnable classification and
# segmentation prompts (16 context vectors each), SAM ViT-H everything masks for the coarse
# seeds. Weights are local files (docs/methods/clip_sam.md); nothing is downloaded.
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[122.771, 116.746, 104.094],  # CLIP's mean/std (×255), RGB
    std=[68.501, 66.632, 70.323],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=(512, 512))  # the dataset crop
model = dict(
    type='CLIPSAMClassifier',
    data_preprocessor=data_preprocessor,
    head=dict(
        type='CLIPPromptHead',
        clip=dict(model_name='ViT-B-16-quickgelu'),  # OpenAI weights use QuickGELU
        pretrained='checkpoints/clip_vit_b16_openai.pt',
        class_names=None,  # set by the dataset config
        n_ctx=16,
        ctx_std=0.125,  # official pretrains/rand_ref/coop_ctx std=·125
        csc=dict(cls=False, seg=True)),  # official: CoOp CSC for the segmentation task
    # official: MultiLabelCLLoss on the classification task; CAMIntensityLoss(l1, 'all',
    # detach_max, bg_thresh=0) on the segmentation task
    loss_cls=dict(type='MultiLabelContrastiveLoss', reduce='pos_mean', loss_weight=1.0),
    loss_act=dict(type='CAMActivationLoss', loss_type='l1', reduce='all', detach_max=True,
                  bg_thresh=0.0, loss_weight=1.0),
    sam=dict(sam_type='vit_h', checkpoint='checkpoints/sam_vit_h_4b8939.pth',
             points_per_side=32, pred_iou_thresh=0.88, decoder_batch_size=64),
    seeding=dict(mode='coarse', bg_method=dict(method='pow', pow=3)),
    test_cfg=dict(bg_threshold=0.3))
# seeds: fine SAM seeding of the learned segmentation-prompt CAMs (tools/make_pseudo_labels.py)
label_generator = dict(
    type='CLIPSAMLabelGenerator', model=None, checkpoint=None,
    sam_type='vit_h', sam_checkpoint='checkpoints/sam_vit_h_4b8939.pth', mode='fine',
    bg_method=dict(method='pow', pow=3), bg_threshold=None,
    points_per_side=32, pred_iou_thresh=0.88)
