from .precision import apply_training_precision
from .pseudo_labels import generate_pseudo_labels

__all__ = ['apply_training_precision', 'generate_pseudo_labels']
