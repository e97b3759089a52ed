# A tiny CLIP (1-layer ViT, patch 16, width 32; 1-layer text transformer) and a tiny SAM,
# random weights: for tests and the CPU synthetic pipeline only (nothing meaningful is learnt).
_base_ = './clip_sam_vit-b16.py'
model = dict(
    data_preprocessor=dict(size=(96, 96)),
    head=dict(
        _delete_=True,
        type='CLIPPromptHead',
        clip=dict(embed_dim=32,
                  vision_cfg=dict(layers=1, width=32, head_width=16, patch_size=16,
                                  image_size=64),
                  text_cfg=dict(context_length=24, vocab_size=49408, width=32, heads=2,
                                layers=1)),
        pretrained=None,
        class_names=None,
        n_ctx=4,
        csc=dict(cls=False, seg=True),
        context_length=24),
    sam=dict(sam_type='tiny', checkpoint='checkpoints/sam_tiny.pth', points_per_side=4,
             pred_iou_thresh=0.0, decoder_batch_size=64))
label_generator = dict(sam_type='tiny', sam_checkpoint='checkpoints/sam_tiny.pth',
                       points_per_side=4, pred_iou_thresh=0.0)
