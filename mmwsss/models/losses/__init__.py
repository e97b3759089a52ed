from .clip_sam_losses import CAMActivationLoss, MultiLabelContrastiveLoss
from .feature_similarity_loss import FeatureSimilarityLoss
from .multilabel_soft_margin_loss import MultiLabelSoftMarginLoss
from .seam_losses import (AdaptiveMinPoolingLoss, EquivariantCrossRegularizationLoss,
                          EquivariantRegularizationLoss)

__all__ = ['AdaptiveMinPoolingLoss', 'CAMActivationLoss', 'EquivariantCrossRegularizationLoss',
           'EquivariantRegularizationLoss', 'FeatureSimilarityLoss', 'MultiLabelContrastiveLoss',
           'MultiLabelSoftMarginLoss']
