from .base import BaseLabelGenerator
from .cam import CAMLabelGenerator

__all__ = ['BaseLabelGenerator', 'CAMLabelGenerator']
