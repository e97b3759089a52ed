from .cam_metric import CAMMetric
from .label_dir import evaluate_label_dir

__all__ = ["CAMMetric", "evaluate_label_dir"]
