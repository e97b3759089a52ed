"""Every config in configs/ loads a sample from the data layouts of docs/datasets.md.

The VOC and COCO trees are made here, a few images each, in the documented layout (split
lists, masks, ``cls_labels.json`` written by the real converter, a pseudo-label folder), so a
config that points at a wrong folder, split or class set fails here rather than on a user's
first run.
"""
import glob
import os
import os.path as osp
import shutil

import mmcv
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from mmwsss.datasets.converters import write_image_labels
from mmwsss.utils.io import save_label_png

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(osp.relpath(p, ROOT) for p in glob.glob(osp.join(ROOT, 'configs/*/*.py'))
                 if '/_base_/' not in p)
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader', 'pseudo_label_dataloader')
# (data_root in the configs, image folders, mask folders, split files, number of classes)
LAYOUTS = {
    'data/VOCdevkit/VOC2012': (  # VOC's own masks too: mmseg's stock configs judge on them
        {'JPEGImages': ['2007_000032', '2007_000039', '2008_000002']},
        ('SegmentationClassAug', 'SegmentationClass'),
        {'ImageSets/Segmentation/train_aug.txt': ['2007_000032', '2008_000002'],
         'ImageSets/Segmentation/train.txt': ['2007_000032'],
         'ImageSets/Segmentation/val.txt': ['2007_000039']}, 21),
    'data/coco2014': (
        {'train2014': ['COCO_train2014_000000000009', 'COCO_train2014_000000000025'],
         'val2014': ['COCO_val2014_000000000042']},
        'SegmentationClass/{folder}',
        {'ImageSets/train2014.txt': ['COCO_train2014_000000000009',
                                    'COCO_train2014_000000000025'],
         'ImageSets/val2014.txt': ['COCO_val2014_000000000042']}, 81),
}


def _folders(mask_dir) -> tuple:
    return (mask_dir,) if isinstance(mask_dir, str) else mask_dir


def _write_tree(root: str, images: dict, mask_dir: str, splits: dict, num_classes: int,
                seed: int) -> None:
    """JPEGs of odd sizes and masks with two foreground classes, ignore pixels included."""
    rng = np.random.default_rng(seed)
    for folder, names in images.items():
        for name in names:
            h, w = rng.integers(40, 90, size=2)
            img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            mmcv.imwrite(img, osp.join(root, folder, name + '.jpg'))
            mask = np.zeros((h, w), np.uint8)
            a, b = rng.choice(np.arange(1, num_classes), size=2, replace=False)
            mask[:h // 2, :w // 2], mask[h // 2:, w // 2:], mask[0, :] = a, b, 255
            for masks in _folders(mask_dir):
                save_label_png(mask, osp.join(root, masks.format(folder=folder), name + '.png'))
    for split, names in splits.items():
        os.makedirs(osp.dirname(osp.join(root, split)), exist_ok=True)
        with open(osp.join(root, split), 'w') as f:
            f.write(''.join(n + '\n' for n in names))


@pytest.fixture(scope='module')
def data_trees(tiny_voc, tmp_path_factory):
    """{data_root of the configs: a tiny tree in that layout}."""
    base = tmp_path_factory.mktemp('layouts')
    trees = {'data/synthetic_voc': tiny_voc}
    for seed, (data_root, (images, mask_dir, splits, n)) in enumerate(LAYOUTS.items()):
        root = str(base / data_root)
        _write_tree(root, images, mask_dir, splits, n, seed)
        # cls_labels.json as the docs say to make it (tools/make_image_labels.py)
        train_split = next(s for s in splits if 'train_aug' in s or 'train2014' in s)
        train_masks = _folders(mask_dir)[0].format(folder='train2014')
        write_image_labels(root, train_split, train_masks)
        trees[data_root] = root
    return trees


def _with_data_root(loader: dict, trees: dict) -> dict:
    """The loader on the tiny tree, single-process; its pseudo-label folder filled in."""
    loader = Config(loader).to_dict()
    loader.update(num_workers=0, persistent_workers=False, pin_memory=False)
    dataset = loader['dataset']
    assert dataset['data_root'] in trees, f"no tiny tree for data_root {dataset['data_root']!r}"
    dataset['data_root'] = root = trees[dataset['data_root']]
    labels = dataset.get('data_prefix', {}).get('seg_map_path', '')
    if 'PseudoLabel' in labels:
        # what tools/make_pseudo_labels.py --out ROOT/LABELS would have written
        shutil.copytree(osp.join(root, 'SegmentationClass/train2014' if 'coco' in root
                                 else 'SegmentationClassAug'), osp.join(root, labels),
                        dirs_exist_ok=True)
    return loader


def _model_classes(cfg: Config):
    """Classes the config's network predicts, background included (None: no fixed head)."""
    model = cfg.get('model', {})
    if 'decode_head' in model:
        return model['decode_head']['num_classes']
    if 'num_classes' in model.get('head', {}):
        return model['head']['num_classes'] + 1  # CAM heads score the foreground classes
    return None


@pytest.mark.parametrize('config', CONFIGS)
def test_config_reads_its_data_layout(config, data_trees):
    cfg = Config.fromfile(osp.join(ROOT, config))
    init_default_scope(cfg.get('default_scope', 'mmwsss'))
    loaders = [k for k in LOADERS if cfg.get(k)]
    assert 'train_dataloader' in loaders or 'pseudo_label_dataloader' in loaders, config
    for key in loaders:
        loader = Runner.build_dataloader(_with_data_root(cfg[key], data_trees), seed=0)
        dataset = loader.dataset
        classes = dataset.metainfo['classes']
        if key == 'train_dataloader' and _model_classes(cfg) is not None:
            assert _model_classes(cfg) == len(classes), f'{config}: model vs {key} classes'
        sample = dataset[0]
        img, ds = sample['inputs'], sample['data_samples']
        assert img.dtype.is_floating_point is False and img.shape[0] == 3, (config, key)
        if 'gt_sem_seg' in ds:
            seg = ds.gt_sem_seg.data
            # the image's size; in a test pipeline, where the mask loads after a Resize, the
            # original one (mmseg judges at the original size)
            sizes = [img.shape[-2:]] + ([tuple(ds.ori_shape[:2])] if key != 'train_dataloader'
                                        else [])
            assert seg.shape[-2:] in sizes, (config, key)
            values = set(seg.unique().tolist()) - {255}
            assert values and max(values) < len(classes), (config, key, values)
        if 'gt_img_labels' in ds:
            labels = ds.gt_img_labels.tolist()
            assert labels and all(0 < c < len(classes) for c in labels), (config, key, labels)
        if key == 'train_dataloader':
            batch = next(iter(loader))
            assert len(batch['inputs']) == cfg[key]['batch_size']  # the sampler repeats


def test_cfg_option_data_root_moves_every_loader(tmp_path):
    """`--cfg-options data_root=DIR` moves the loaders that read the config's data_root (mmengine
    alone would change only the unused variable)."""
    import argparse

    from mmwsss.apis.cli import load_tool_config
    cfg_file = str(glob.glob(osp.join(ROOT, 'configs/cam/cam_r50_*_coco14-*.py'))[0])
    args = argparse.Namespace(config=cfg_file, cfg_options={'data_root': str(tmp_path)},
                              launcher=None)
    cfg = load_tool_config(args)
    loaders = [k for k in cfg if k.endswith('_dataloader')]
    assert len(loaders) == 4
    assert {cfg[k].dataset.data_root for k in loaders} == {str(tmp_path)}
    other = tmp_path / 'own_root.py'
    other.write_text(f'_base_ = [{cfg_file!r}]\n'
                     "train_dataloader = dict(dataset=dict(data_root='x'))\n"
                     "val_dataloader = dict(dataset=dict(data_root='x'))\n"
                     "test_dataloader = dict(dataset=dict(data_root='x'))\n"
                     "pseudo_label_dataloader = dict(dataset=dict(data_root='x'))\n")
    args.config = str(other)
    with pytest.raises(KeyError, match="no dataset of this config reads the config's data_root"):
        load_tool_config(args)


def test_a_mistyped_cfg_option_is_warned_about():
    import argparse

    from mmwsss.apis.cli import load_tool_config
    cfg_file = osp.join(ROOT, 'configs/cam/cam_r18-w16_1xb16-1000it_synthetic-96x96.py')
    args = argparse.Namespace(config=cfg_file, launcher=None, cfg_options={
        'label_generater.bg_threshold': 0.3, 'compile': True, 'label_generator.crf': None})
    with pytest.warns(UserWarning, match=r'--cfg-options label_generater: not in .*cam_r18'):
        load_tool_config(args)


def test_a_stock_mmseg_config_trains_on_pseudo_labels(data_trees, tmp_path):
    """configs/deeplabv3plus: mmseg's own DeepLab-v3+ config (``mmseg::`` inheritance) with
    the training set swapped for a pseudo-label folder trains through tools/train.py and is
    judged on val; only sizes are shrunk here (random weights, 64x64 crops, 2 iterations)."""
    from conftest import run_tool
    from mmwsss.utils import MissingFileError, check_config_checkpoints
    name = 'configs/deeplabv3plus/deeplabv3plus_r101-d8_4xb4-40k_voc12aug-pseudo-512x512.py'
    cfg = Config.fromfile(osp.join(ROOT, name))
    assert cfg.model.type == 'EncoderDecoder' and cfg.model.decode_head.type == \
        'DepthwiseSeparableASPPHead'  # mmseg's model, untouched
    # mmseg's own config names its backbone by URL: refused before anything is built
    stock = tmp_path / 'stock.py'
    stock.write_text("_base_ = ['mmseg::deeplabv3plus/"
                     "deeplabv3plus_r101-d8_4xb4-40k_voc12aug-512x512.py']\n")
    stock = Config.fromfile(str(stock))
    with pytest.raises(MissingFileError, match="model.pretrained is 'open-mmlab://resnet101_v1c'"
                                               ': mmwsss does not download'):
        check_config_checkpoints(stock)
    with pytest.raises(FileNotFoundError, match='resnet101_v1c-e67eebb6.pth'):
        check_config_checkpoints(cfg)
    cfg.model.backbone.init_cfg = None
    cfg.model.data_preprocessor.size = (64, 64)
    for t in cfg.train_dataloader.dataset.pipeline:
        t.update({'RandomResize': dict(scale=(128, 64)), 'RandomCrop': dict(crop_size=(64, 64)),
                  'Pad': dict(size=(64, 64))}.get(t['type'], {}))
    cfg.train_dataloader = _with_data_root(cfg.train_dataloader, data_trees)
    cfg.train_dataloader.batch_size = 2
    init_default_scope(cfg.default_scope)
    train_set = Runner.build_dataloader(cfg.train_dataloader, seed=0).dataset
    labels = osp.join(cfg.train_dataloader.dataset.data_root, 'PseudoLabels')
    assert type(train_set).__name__ == 'PseudoLabelDataset'  # trains on the label folder
    assert all(train_set.get_data_info(i)['seg_map_path'].startswith(labels)
               for i in range(len(train_set)))
    cfg.val_dataloader = cfg.test_dataloader = _with_data_root(cfg.val_dataloader, data_trees)
    for t in cfg.val_dataloader.dataset.pipeline:
        if t['type'] == 'Resize':
            t['scale'] = (128, 64)
    cfg.train_cfg.update(max_iters=2, val_interval=2)
    cfg.param_scheduler = [dict(type='PolyLR', power=0.9, begin=0, end=2, by_epoch=False)]
    cfg.default_hooks.checkpoint.interval = 2
    cfg.default_hooks.logger.interval = 1
    small = str(tmp_path / 'small.py')
    cfg.dump(small)
    work = str(tmp_path / 'work')
    proc = run_tool('tools/train.py', small, '--work-dir', work)
    assert 'mIoU' in proc.stdout + proc.stderr
    assert osp.isfile(osp.join(work, 'iter_2.pth'))
