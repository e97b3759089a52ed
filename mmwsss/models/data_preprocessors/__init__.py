from .batched_seg_data_preprocessor import BatchedSegDataPreProcessor

__all__ = ['BatchedSegDataPreProcessor']
