# SEAM + HFPL on the synthetic set: the same two head switches as hfpl-cam, on SEAM's config.
_base_ = '../seam/seam_r18-w16_1xb16-1000it_synthetic-96x96.py'
model = dict(head=dict(
    pooling=dict(type='importance_sampling', num_samples=10, sample_loss_weight=0.2),
    loss_cam=[dict(type='FeatureSimilarityLoss', mu=2.5, sigma=5.0, loss_weight=1.0)]))
