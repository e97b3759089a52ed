"""The base of losses that carry their weight and their key in the loss dict."""
import torch.nn as nn


class WeightedLoss(nn.Module):
    """A loss with ``loss_weight`` (its multiplier) and ``loss_name`` (its key in the loss
    dict; it must contain ``loss`` to be back-propagated), as mmseg's losses have."""

    def __init__(self, loss_weight: float, loss_name: str) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        return self._loss_name
