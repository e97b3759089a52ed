from .cam_head import CAMHead
from .clip_prompt_head import CLIPPromptHead
from .importance_sampling_pooling import ImportanceSamplingPooling
from .pooling import GlobalAvgPooling, build_cam_pooling

__all__ = ['CAMHead', 'CLIPPromptHead', 'GlobalAvgPooling', 'ImportanceSamplingPooling',
           'build_cam_pooling']
