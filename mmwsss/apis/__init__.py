from .pseudo_labels import generate_pseudo_labels

__all__ = ['generate_pseudo_labels']
