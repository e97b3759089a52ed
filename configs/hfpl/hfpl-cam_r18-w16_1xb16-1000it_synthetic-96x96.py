# CAM baseline + HFPL (importance sampling + feature similarity loss), nothing else changed.
_base_ = '../cam/cam_r18-w16_1xb16-1000it_synthetic-96x96.py'
model = dict(head=dict(
    pooling=dict(type='importance_sampling', num_samples=10, sample_loss_weight=0.2),
    loss_cam=[dict(type='FeatureSimilarityLoss', mu=2.5, sigma=5.0, loss_weight=1.0)]))
