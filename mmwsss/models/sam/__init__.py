"""Segment Anything (SAM) parts shared by the foundation-model label generators and the
CLIP + SAM model: building it from local files, batched prompting, automatic masks."""
from .auto_masks import (SAM_AUTO_LEVELS, SAM_AUTO_PATTERNS, SamAutoMaskGenerator, point_grid,
                         predict_everything, rock_sand_water)
from .build import (SAM_CHECKPOINTS, SAM_RELEASE, SAM_TYPES, TINY_SAM, build_sam, build_sam_model,
                    check_sam_checkpoint, sam_input_size, sdpa_attention_forward,
                    sdpa_image_encoder)
from .predictor import BatchedSamPredictor, SamImageBatch

__all__ = ['SAM_AUTO_LEVELS', 'SAM_AUTO_PATTERNS', 'SAM_CHECKPOINTS', 'SAM_RELEASE', 'SAM_TYPES',
           'BatchedSamPredictor', 'SamAutoMaskGenerator', 'SamImageBatch', 'TINY_SAM', 'build_sam',
           'build_sam_model', 'check_sam_checkpoint', 'point_grid', 'predict_everything',
           'rock_sand_water', 'sam_input_size', 'sdpa_attention_forward', 'sdpa_image_encoder']
