# Grounded-SAM pseudo-labels for MS-COCO 2014 train (80 classes), no training. COCO class
# names are readable as they are; the VOC synonyms of the reference do not apply.
#   python tools/make_pseudo_labels.py configs/grounded_sam/grounded-sam_swin-t-vit-h_1xb8_coco14.py \
#       --out work_dirs/grounded_sam_coco/labels --batch-size 8
_base_ = [
    '../_base_/datasets/coco14_cls.py', '../_base_/default_runtime.py',
    '../_base_/models/grounded-sam_swin-t-vit-h.py'
]
pseudo_label_dataloader = dict(batch_size=8)
label_generator = dict(classes='COCOImageLevelDataset')
