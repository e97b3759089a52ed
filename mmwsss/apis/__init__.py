from .inference import inference_cam, init_cam_model, save_cam_demo
from .precision import apply_training_precision
from .pseudo_labels import apply_label_options, generate_pseudo_labels

__all__ = ['apply_label_options', 'apply_training_precision', 'generate_pseudo_labels',
           'inference_cam', 'init_cam_model', 'save_cam_demo']
