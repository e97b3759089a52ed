from .cam_head import CAMHead
from .pooling import GlobalAvgPooling, ImportanceSamplingPooling, build_cam_pooling

__all__ = ['CAMHead', 'GlobalAvgPooling', 'ImportanceSamplingPooling', 'build_cam_pooling']
