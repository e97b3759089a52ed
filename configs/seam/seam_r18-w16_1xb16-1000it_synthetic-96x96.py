# SEAM on the synthetic set with the CAM baseline's backbone, data and schedule
# (configs/cam/cam_r18-w16_1xb16-1000it_synthetic-96x96.py), so the two compare directly.
# Transform and losses: EquivariantCAMClassifier's defaults, which are SEAM's.
_base_ = '../cam/cam_r18-w16_1xb16-1000it_synthetic-96x96.py'
model = dict(
    type='EquivariantCAMClassifier',
    backbone=dict(out_indices=(1, 2, 3)),  # 32 ch and 64 ch (OS 8) for PCM, 128 ch for the head
    cam_neck=dict(type='PCMNeck', in_channels=(32, 64), in_index=(0, 1),
                  feat_channels=(16, 32), out_channels=48),
    # SEAM's inference (infer_SEAM.py), as configs/_base_/models/seam_wr38.py
    test_cfg=dict(norm='min_max', scale_mode='pil_bicubic', upsample_via_scaled_input=True))
