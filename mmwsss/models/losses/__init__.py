from .multilabel_soft_margin_loss import MultiLabelSoftMarginLoss
from .seam_losses import (AdaptiveMinPoolingLoss, EquivariantCrossRegularizationLoss,
                          EquivariantRegularizationLoss)

__all__ = ['AdaptiveMinPoolingLoss', 'EquivariantCrossRegularizationLoss',
           'EquivariantRegularizationLoss', 'MultiLabelSoftMarginLoss']
