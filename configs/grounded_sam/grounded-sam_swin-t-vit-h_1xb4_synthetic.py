# Grounded-SAM on the built-in synthetic set (tools/make_synthetic_voc.py). With the real
# checkpoints it labels the five shapes by name ('disk', 'square', ...); the tests run it with
# tiny random models to check the pipeline (sharding, resume, failures).
_base_ = [
    '../_base_/datasets/synthetic_voc_cls.py', '../_base_/default_runtime.py',
    '../_base_/models/grounded-sam_swin-t-vit-h.py'
]
pseudo_label_dataloader = dict(batch_size=4)
label_generator = dict(classes='SyntheticVOCDataset')
