from .cam_classifier import CAMClassifier
from .equivariant_cam_classifier import EquivariantCAMClassifier

__all__ = ['CAMClassifier', 'EquivariantCAMClassifier']
