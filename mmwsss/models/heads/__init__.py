from .cam_head import CAMHead
from .pooling import GlobalAvgPooling, build_cam_pooling

__all__ = ['CAMHead', 'GlobalAvgPooling', 'build_cam_pooling']
