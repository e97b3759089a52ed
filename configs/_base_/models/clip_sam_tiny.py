# A tiny CLIP (2-layer ViT, patch 16, width 32; 1-layer text transformer) and a tiny SAM,
# random weights: for tests and the CPU synthetic pipeline only (nothing meaningful is learnt).
_base_ = './clip_sam_vit-b16.py'
# the official SamAuto pattern with a 4×4 grid and the quality thresholds off (a random SAM's
# predicted IoUs and stability scores mean nothing); crops, NMS, clean-up and the
# rock-sand-water filter run as in the official pattern
tiny_sam_auto = dict(pattern='l2_nmsf_s1_rsw3', points_per_side=4, pred_iou_thresh=0.0,
                     stability_score_thresh=0.0, min_mask_region_area=20)
model = dict(
    data_preprocessor=dict(size=(96, 96)),
    head=dict(
        _delete_=True,
        type='CLIPPromptHead',
        clip=dict(embed_dim=32,
                  vision_cfg=dict(layers=2, width=32, head_width=16, patch_size=16,
                                  image_size=64),
                  text_cfg=dict(context_length=24, vocab_size=49408, width=32, heads=2,
                                layers=1)),
        pretrained=None,
        class_names=None,
        n_ctx=4,
        ctx_std=dict(cls=0.015, seg=0.125),
        csc=dict(cls=False, seg=True),
        cls_token_pos=dict(cls='end', seg='front'),
        bg_names=dict(cls=['ground', 'sky', 'wall'], seg=[''] * 3),
        context_length=24),
    sam=dict(sam_type='tiny', checkpoint='checkpoints/sam_tiny.pth', points_per_side=4,
             pred_iou_thresh=0.0, decoder_batch_size=64, sam_auto=tiny_sam_auto))
label_generator = dict(sam_type='tiny', sam_checkpoint='checkpoints/sam_tiny.pth',
                       points_per_side=4, pred_iou_thresh=0.0, sam_auto=tiny_sam_auto)
