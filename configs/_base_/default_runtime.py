default_scope = 'mmwsss'
custom_imports = dict(imports=['mmwsss'], allow_failed_imports=False)
env_cfg = dict(
    # off for evaluation and label generation (many image sizes); tools/train.py turns it on
    # for the training loop (fixed crops; mmwsss.CudnnBenchmarkHook)
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # without CUDA, tools/*.py switch to gloo (mmwsss.utils.prepare_distributed)
    dist_cfg=dict(backend='nccl'),
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
# Training precision and memory layout (mmwsss.apis.precision; tools/train.py applies them):
# 'fp32' | 'bf16' (AmpOptimWrapper, no loss scaler) | 'fp16'. GPU configs use bf16 + channels_last.
train_precision = 'fp32'
channels_last = False
