from .overlays import (cam_heatmap, colorize_label, label_overlay, save_cam_and_label_overlay,
                       unique_names)

__all__ = ['cam_heatmap', 'colorize_label', 'label_overlay', 'save_cam_and_label_overlay',
           'unique_names']
