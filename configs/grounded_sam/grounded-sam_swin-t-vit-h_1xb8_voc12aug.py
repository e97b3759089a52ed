# Grounded-SAM pseudo-labels for PASCAL VOC 2012 train_aug (10,582 images), no training.
#   python tools/make_pseudo_labels.py configs/grounded_sam/grounded-sam_swin-t-vit-h_1xb8_voc12aug.py \
#       --out work_dirs/grounded_sam_voc/labels --batch-size 8
_base_ = [
    '../_base_/datasets/voc12aug_cls.py', '../_base_/default_runtime.py',
    '../_base_/models/grounded-sam_swin-t-vit-h.py'
]
pseudo_label_dataloader = dict(batch_size=8)
label_generator = dict(classes='VOCImageLevelDataset')
