"""mmseg's data preprocessor with mixed-size test batches and non-blocking copies."""
from typing import Any, Dict

from mmseg.models import SegDataPreProcessor

from mmwsss.registry import MODELS


@MODELS.register_module()
class BatchedSegDataPreProcessor(SegDataPreProcessor):
    """mmseg's ``SegDataPreProcessor`` with two changes for GPU speed; training batches are
    otherwise built exactly as mmseg builds them.

    - ``non_blocking`` (default True): host-to-device copies do not wait for the GPU. mmseg's
      blocking copies synchronise the stream once per image and label map, which stalls a
      pipelined training step; with ``pin_memory=True`` in the data loader the copies are
      truly asynchronous.
    - At test time images of different sizes form one batch (mmseg requires equal sizes
      there), so CAM inference and label generation can run many images per pass.

    Each test image is normalised, then padded at the bottom/right with ``pad_val`` to
    ``test_cfg['size']`` if given, else to the largest image of the batch, enlarged to a
    multiple of ``test_cfg['size_divisor']`` if given. ``img_shape`` keeps each image's own
    size and ``pad_shape`` the padded one; ``CAMClassifier.predict`` crops every CAM back
    to ``img_shape`` before normalising it. Without ``size`` / ``size_divisor``, a batch of one
    image, or of equal sizes, is not padded.
    """

    def __init__(self, *args, non_blocking: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._non_blocking = non_blocking

    def forward(self, data: dict, training: bool = False) -> Dict[str, Any]:
        if training:
            return super().forward(data, training)
        data = self.cast_data(data)
        inputs = data['inputs']
        if self.channel_conversion and inputs[0].size(0) == 3:
            inputs = [x[[2, 1, 0], ...] for x in inputs]
        inputs = [x.float() for x in inputs]
        if self._enable_normalize:
            inputs = [(x - self.mean) / self.std for x in inputs]
        cfg = self.test_cfg or {}
        h = max(x.shape[-2] for x in inputs)
        w = max(x.shape[-1] for x in inputs)
        if cfg.get('size'):
            h, w = max(h, cfg['size'][0]), max(w, cfg['size'][1])
        if cfg.get('size_divisor'):
            d = cfg['size_divisor']
            h, w = -(-h // d) * d, -(-w // d) * d
        batch = inputs[0].new_full((len(inputs), inputs[0].shape[0], h, w), self.pad_val)
        for i, x in enumerate(inputs):
            batch[i, :, :x.shape[-2], :x.shape[-1]] = x
        samples = data.get('data_samples')
        for ds, x in zip(samples or [], inputs):
            ih, iw = x.shape[-2:]
            ds.set_metainfo(dict(img_shape=(ih, iw), pad_shape=(h, w),
                                 padding_size=(0, w - iw, 0, h - ih)))
        return dict(inputs=batch, data_samples=samples)
