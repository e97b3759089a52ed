from .rescale import RescaleTransform

__all__ = ['RescaleTransform']
