# Grounded-SAM label generator (no training): Grounding DINO Swin-T (mmdet) + SAM ViT-H.
# Generator only; the dataset configs in this folder inherit it. Checkpoints are local files
# (docs/methods/grounded_sam.md says where to get them); change a path with
# --cfg-options label_generator.sam_checkpoint=... (or detector_checkpoint / text_encoder).
lang_model_name = 'checkpoints/bert-base-uncased'  # local bert-base-uncased folder
# mmdet 3.3's grounding_dino_swin-t_pretrain_obj365_goldg_cap4m.py model (the config of
# groundingdino_swint_ogc_mmdet-822d7e9d.pth), written out: the mmdet wheel has no configs/.
grounding_dino_swin_t = dict(
    type='GroundingDINO',
    num_queries=900,
    with_box_refine=True,
    as_two_stage=True,
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_mask=False),
    language_model=dict(
        type='BertModel',
        name=lang_model_name,
        max_tokens=256,
        pad_to_max=False,
        use_sub_sentence_represent=True,
        special_tokens_list=['[CLS]', '[SEP]', '.', '?'],
        add_pooling_layer=True),
    backbone=dict(
        type='SwinTransformer',
        embed_dims=96,
        depths=[2, 2, 6, 2],
        num_heads=[3, 6, 12, 24],
        window_size=7,
        mlp_ratio=4,
        qkv_bias=True,
        qk_scale=None,
        drop_rate=0.,
        attn_drop_rate=0.,
        drop_path_rate=0.2,
        patch_norm=True,
        out_indices=(1, 2, 3),
        with_cp=False,
        convert_weights=False,
        init_cfg=None),
    neck=dict(
        type='ChannelMapper',
        in_channels=[192, 384, 768],
        kernel_size=1,
        out_channels=256,
        act_cfg=None,
        bias=True,
        norm_cfg=dict(type='GN', num_groups=32),
        num_outs=4),
    encoder=dict(
        num_layers=6,
        layer_cfg=dict(  # visual layers
            self_attn_cfg=dict(embed_dims=256, num_levels=4, dropout=0.0),
            ffn_cfg=dict(embed_dims=256, feedforward_channels=2048, ffn_drop=0.0)),
        text_layer_cfg=dict(
            self_attn_cfg=dict(num_heads=4, embed_dims=256, dropout=0.0),
            ffn_cfg=dict(embed_dims=256, feedforward_channels=1024, ffn_drop=0.0)),
        fusion_layer_cfg=dict(v_dim=256, l_dim=256, embed_dim=1024, num_heads=4,
                              init_values=1e-4)),
    decoder=dict(
        num_layers=6,
        return_intermediate=True,
        layer_cfg=dict(
            self_attn_cfg=dict(embed_dims=256, num_heads=8, dropout=0.0),
            cross_attn_text_cfg=dict(embed_dims=256, num_heads=8, dropout=0.0),
            cross_attn_cfg=dict(embed_dims=256, num_heads=8, dropout=0.0),
            ffn_cfg=dict(embed_dims=256, feedforward_channels=2048, ffn_drop=0.0)),
        post_norm_cfg=None),
    positional_encoding=dict(num_feats=128, normalize=True, offset=0.0, temperature=20),
    bbox_head=dict(
        type='GroundingDINOHead',
        num_classes=256,
        sync_cls_avg_factor=True,
        contrastive_cfg=dict(max_text_len=256),  # no scale / bias, as the official weights
        loss_cls=dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25,
                      loss_weight=1.0),
        loss_bbox=dict(type='L1Loss', loss_weight=5.0)),
    dn_cfg=dict(label_noise_scale=0.5, box_noise_scale=1.0,
                group_cfg=dict(dynamic=True, num_groups=None, num_dn_queries=100)),
    train_cfg=None,
    test_cfg=dict(max_per_img=300))
label_generator = dict(
    type='GroundedSAMLabelGenerator',
    classes=None,  # set by the dataset config: class names or a dataset type
    detector=grounding_dino_swin_t,
    detector_checkpoint='checkpoints/groundingdino_swint_ogc_mmdet-822d7e9d.pth',
    text_encoder=lang_model_name,
    sam_type='vit_h',
    sam_checkpoint='checkpoints/sam_vit_h_4b8939.pth',
    # prompts=dict(sofa=['sofa', 'couch']) replaces a class's phrases (set it in a child config)
    default_prompts=True,  # the reference script's synonyms (VOC names)
    box_threshold=0.3,
    text_threshold=0.25,
    detector_scale=(800, 1333),
    max_detections=100,
    nms_iou_threshold=None,
    fallback='ignore',  # no box passes: 'ignore' (255) | 'background' (0) | 'cam'
    # fallback='cam' also needs fallback_generator=dict(type='CAMLabelGenerator', config=...,
    # checkpoint=...); not set here, so a child config can add it as a dict
    sam_precision='auto',  # bf16 autocast on CUDA, fp32 on CPU; 'fp32' to switch it off
    detector_precision='auto',  # the same for Grounding DINO
    sam_sdpa=True,  # SAM encoder attention through the fused SDPA kernel (same math)
    sam_encoder_batch_size=8,
    sam_decoder_batch_size=64,
    # 'auto': on CUDA, SAM encodes on a second stream while the detector runs (same labels;
    # off until its speed is measured on a GPU: benchmarks/label_throughput.py)
    overlap_sam_encoder=False,
    # batches of make_pseudo_labels: 'orientation' (full batches; Grounding DINO pads a batch
    # to its largest image) or 'size' (one image size per batch: labels independent of it)
    batch_grouping='orientation')
