"""MS-COCO 2014 with image-level labels, in the layout WSSS work uses."""
from mmwsss.registry import DATASETS
from .voc_image_level import VOCImageLevelDataset, voc_palette

COCO_CLASSES = (
    'background', 'person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck',
    'boat', 'traffic light', 'fire hydrant', 'stop sign', 'parking meter', 'bench', 'bird', 'cat',
    'dog', 'horse', 'sheep', 'cow', 'elephant', 'bear', 'zebra', 'giraffe', 'backpack', 'umbrella',
    'handbag', 'tie', 'suitcase', 'frisbee', 'skis', 'snowboard', 'sports ball', 'kite',
    'baseball bat', 'baseball glove', 'skateboard', 'surfboard', 'tennis racket', 'bottle',
    'wine glass', 'cup', 'fork', 'knife', 'spoon', 'bowl', 'banana', 'apple', 'sandwich', 'orange',
    'broccoli', 'carrot', 'hot dog', 'pizza', 'donut', 'cake', 'chair', 'couch', 'potted plant',
    'bed', 'dining table', 'toilet', 'tv', 'laptop', 'mouse', 'remote', 'keyboard', 'cell phone',
    'microwave', 'oven', 'toaster', 'sink', 'refrigerator', 'book', 'clock', 'vase', 'scissors',
    'teddy bear', 'hair drier', 'toothbrush')


@DATASETS.register_module()
class COCOImageLevelDataset(VOCImageLevelDataset):
    """COCO 2014 train/val, 80 classes + background (0), 255 ignored.

    Layout (``docs/datasets.md``)::

        coco2014/
          train2014/COCO_train2014_*.jpg   val2014/COCO_val2014_*.jpg
          SegmentationClass/train2014/*.png   SegmentationClass/val2014/*.png
          ImageSets/train2014.txt   ImageSets/val2014.txt   (image names without suffix)
          cls_labels.json (optional)

    The semantic masks are made from the instance annotations by
    ``tools/dataset_converters/coco_to_semantic.py`` (class index = position in
    ``COCO_CLASSES``, i.e. COCO category ids remapped to 1..80 in id order).
    """
    METAINFO = dict(classes=COCO_CLASSES, palette=voc_palette(len(COCO_CLASSES)))

    def __init__(self, ann_file: str = 'ImageSets/train2014.txt', **kwargs) -> None:
        super().__init__(ann_file=ann_file, **kwargs)
