"""Batches of images of one size: no padding, so batched CAMs equal one-at-a-time CAMs."""
from typing import Dict, List, Optional, Sequence, Tuple

from torch.utils.data import BatchSampler, Sampler

from mmwsss.registry import DATA_SAMPLERS
# (width, height) as an image decodes (EXIF orientation applied), from its header
from mmwsss.utils.exif import decoded_size as image_size

BATCH_GROUPINGS = ('size', 'orientation')


def batches_by_image_size(img_paths: Sequence[str], indices: Sequence[int], batch_size: int,
                          group_by: str = 'size') -> List[List[int]]:
    """Batches of ``indices`` grouped by their images' decoded sizes (``batches_by_size`` of
    the sizes read from the file headers)."""
    return batches_by_size([image_size(p) for p in img_paths], indices, batch_size, group_by)


def batches_by_size(sizes: Sequence[Optional[Tuple[int, int]]], indices: Sequence[int],
                    batch_size: int, group_by: str = 'size') -> List[List[int]]:
    """Batches of ``indices`` by image size ((width, height) each, None if unknown).

    ``group_by='size'``: a batch holds images of one size. No padding, so a batch gives the
    labels of one image at a time, and models that need equal sizes in a batch (mmseg's
    ``SegDataPreProcessor``, CLIP) can batch. Each size group keeps its original order.

    ``group_by='orientation'``: for models that pad mixed sizes themselves (Grounding DINO):
    landscape and portrait images apart, each group sorted by size, so batches are full and
    padded little. Exact sizes would split a dataset of many sizes (COCO, VOC) into many
    small batches.

    Largest groups first; images of unknown size form their own batches at the end (the
    loader reports the files that cannot be read).
    """
    if group_by not in BATCH_GROUPINGS:
        raise ValueError(f'group_by={group_by!r}: use one of {BATCH_GROUPINGS}')
    groups: Dict = {}
    unknown = []
    for size, idx in zip(sizes, indices):
        if size is None:
            unknown.append([idx])  # one image per batch
        else:
            key = tuple(size) if group_by == 'size' else size[0] >= size[1]
            groups.setdefault(key, []).append((tuple(size), idx))
    ordered = [[idx for _, idx in (group if group_by == 'size' else
                                   sorted(group, key=lambda item: item[0]))]
               for group in sorted(groups.values(), key=len, reverse=True)]
    return [group[i:i + batch_size] for group in ordered
            for i in range(0, len(group), batch_size)] + unknown


@DATA_SAMPLERS.register_module()
class SameSizeBatchSampler(BatchSampler):
    """A data loader's ``batch_sampler`` that batches the sampler's indices (this rank's
    shard) by image size, so no batch is padded.

    CAM evaluation (``tools/test.py --split train``) then computes exactly the CAMs that
    ``tools/make_pseudo_labels.py`` labels with, and the best background threshold it picks
    is the right one for them; padded mixed-size batches change CAMs near the borders. The
    sampler's last index comes last, in a batch of its own: ``CAMMetric`` recognises
    ``DefaultSampler``'s padded repeat by that position.

    Args:
        sampler: e.g. ``DefaultSampler``; its ``dataset`` gives the image paths.
        batch_size: images per batch at most.
    """

    def __init__(self, sampler: Sampler, batch_size: int, drop_last: bool = False) -> None:
        if drop_last:
            raise ValueError('SameSizeBatchSampler keeps every image (drop_last=False)')
        super().__init__(sampler, batch_size, drop_last)
        self._cache = None

    def _batches(self) -> List[List[int]]:
        # the sampler's order is fixed by its length, epoch and seed: rebuild only when one
        # changes (the test loop asks len() after every batch)
        key = tuple(getattr(self.sampler, k, None) for k in ('epoch', 'seed', 'shuffle'))
        key += (len(self.sampler), )
        if self._cache is None or self._cache[0] != key:
            indices = list(self.sampler)
            batches = []
            if indices:
                dataset = self.sampler.dataset
                paths = [dataset.get_data_info(i)['img_path'] for i in indices[:-1]]
                batches = batches_by_image_size(paths, indices[:-1], self.batch_size)
                batches.append(indices[-1:])
            self._cache = (key, batches)
        return self._cache[1]

    def __iter__(self):
        yield from self._batches()

    def __len__(self) -> int:
        return len(self._batches())
