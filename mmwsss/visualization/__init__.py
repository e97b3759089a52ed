from .overlays import cam_heatmap, colorize_label, label_overlay, save_cam_and_label_overlay

__all__ = ['cam_heatmap', 'colorize_label', 'label_overlay', 'save_cam_and_label_overlay']
