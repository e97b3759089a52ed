from .cam_classifier import CAMClassifier
from .clip_sam_classifier import CLIPSAMClassifier
from .equivariant_cam_classifier import EquivariantCAMClassifier

__all__ = ['CAMClassifier', 'CLIPSAMClassifier', 'EquivariantCAMClassifier']
