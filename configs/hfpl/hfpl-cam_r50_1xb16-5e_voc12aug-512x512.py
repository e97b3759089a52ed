# CAM baseline + HFPL on VOC aug: importance sampling (10 samples, weight 0.2 against GAP) and
# the feature similarity loss (weight 1.0 on VOC), the defaults of arvijj/hfpl.
_base_ = '../cam/cam_r50_1xb16-5e_voc12aug-512x512.py'
model = dict(head=dict(
    pooling=dict(type='importance_sampling', num_samples=10, sample_loss_weight=0.2),
    loss_cam=[dict(type='FeatureSimilarityLoss', mu=2.5, sigma=5.0, loss_weight=1.0)]))
val_evaluator = dict(type='CAMMetric', boundary_thresholds=[0.25])
test_evaluator = val_evaluator
