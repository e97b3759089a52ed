from .same_size_batch_sampler import (BATCH_GROUPINGS, SameSizeBatchSampler, batches_by_image_size,
                                      batches_by_size, image_size)

__all__ = ['BATCH_GROUPINGS', 'SameSizeBatchSampler', 'batches_by_image_size', 'batches_by_size',
           'image_size']
