from .adaptive_min_pooling_loss import AdaptiveMinPoolingLoss
from .cam_activation_loss import CAMActivationLoss
from .equivariant_cross_regularization_loss import EquivariantCrossRegularizationLoss
from .equivariant_regularization_loss import EquivariantRegularizationLoss
from .feature_similarity_loss import FeatureSimilarityLoss
from .multilabel_contrastive_loss import MultiLabelContrastiveLoss
from .multilabel_soft_margin_loss import MultiLabelSoftMarginLoss
from .weighted_loss import WeightedLoss

__all__ = ['AdaptiveMinPoolingLoss', 'CAMActivationLoss', 'EquivariantCrossRegularizationLoss',
           'EquivariantRegularizationLoss', 'FeatureSimilarityLoss', 'MultiLabelContrastiveLoss',
           'MultiLabelSoftMarginLoss', 'WeightedLoss']
