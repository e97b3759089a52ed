from .same_size_batch_sampler import SameSizeBatchSampler, batches_by_image_size, image_size

__all__ = ['SameSizeBatchSampler', 'batches_by_image_size', 'image_size']
