# SEAM + HFPL on VOC aug, as arvijj/hfpl train_cam_voc.py: importance sampling and the feature
# similarity loss (weight 1.0) on the full-scale branch; boundary F at background 0.25.
_base_ = '../seam/seam_wr38_1xb8-8e_voc12aug-448x448.py'
model = dict(head=dict(
    pooling=dict(type='importance_sampling', num_samples=10, sample_loss_weight=0.2),
    loss_cam=[dict(type='FeatureSimilarityLoss', mu=2.5, sigma=5.0, loss_weight=1.0)]))
val_evaluator = dict(type='CAMMetric', boundary_thresholds=[0.25])
test_evaluator = val_evaluator
