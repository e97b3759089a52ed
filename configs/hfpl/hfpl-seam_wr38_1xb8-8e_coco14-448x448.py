# SEAM + HFPL on MS-COCO 2014, as arvijj/hfpl train_cam_coco.py: importance sampling
# (weight 0.2) and the feature similarity loss at weight 0.2 (1.0 on VOC) on the full-scale
# branch; boundary F at background 0.25 (contour_fscore.py).
_base_ = '../seam/seam_wr38_1xb8-8e_coco14-448x448.py'
model = dict(head=dict(
    pooling=dict(type='importance_sampling', num_samples=10, sample_loss_weight=0.2),
    loss_cam=[dict(type='FeatureSimilarityLoss', mu=2.5, sigma=5.0, loss_weight=0.2)]))
val_evaluator = dict(type='CAMMetric', boundary_thresholds=[0.25])
test_evaluator = val_evaluator
