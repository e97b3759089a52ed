from .base import BaseLabelGenerator
from .cam import CAMLabelGenerator
from .clip_sam import CLIPSAMLabelGenerator
from .grounded_sam import GroundedSAMLabelGenerator

__all__ = ['BaseLabelGenerator', 'CAMLabelGenerator', 'CLIPSAMLabelGenerator',
           'GroundedSAMLabelGenerator']
