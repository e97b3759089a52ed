from .pcm_neck import PCMNeck

__all__ = ['PCMNeck']
