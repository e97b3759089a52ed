# CAM baseline + HFPL on COCO 2014: feature similarity loss weight 0.2 (arvijj/hfpl COCO script).
_base_ = '../cam/cam_r50_1xb16-5e_coco14-512x512.py'
model = dict(head=dict(
    pooling=dict(type='importance_sampling', num_samples=10, sample_loss_weight=0.2),
    loss_cam=[dict(type='FeatureSimilarityLoss', mu=2.5, sigma=5.0, loss_weight=0.2)]))
val_evaluator = dict(type='CAMMetric', boundary_thresholds=[0.25])
test_evaluator = val_evaluator
