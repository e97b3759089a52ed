from .base import BaseLabelGenerator
from .cam import CAMLabelGenerator
from .grounded_sam import GroundedSAMLabelGenerator

__all__ = ['BaseLabelGenerator', 'CAMLabelGenerator', 'GroundedSAMLabelGenerator']
