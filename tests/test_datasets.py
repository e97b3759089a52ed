"""Datasets, the synthetic generator and the CAM transforms."""
import json
import os
import os.path as osp
import shutil

import mmcv
import numpy as np
import pytest
from mmcv.transforms import BaseTransform

from mmwsss.datasets import (COCOImageLevelDataset, PseudoLabelDataset,
                             SyntheticPseudoLabelDataset, SyntheticVOCDataset,
                             VOCImageLevelDataset)
from mmwsss.datasets.synthetic import render_sample
from mmwsss.registry import TRANSFORMS
from mmwsss.utils.io import load_label_png, save_label_png

PREFIX = dict(img_path='JPEGImages', seg_map_path='SegmentationClassAug')


def test_synthetic_is_deterministic_and_varied():
    img_a, mask_a = render_sample(5, size=64, seed=0)
    img_b, mask_b = render_sample(5, size=64, seed=0)
    img_c, _ = render_sample(6, size=64, seed=0)
    assert np.array_equal(img_a, img_b) and np.array_equal(mask_a, mask_b)
    assert not np.array_equal(img_a, img_c)
    counts = [len(set(np.unique(render_sample(i, 64)[1]).tolist()) - {0}) for i in range(40)]
    assert min(counts) >= 1 and max(counts) <= 3 and len(set(counts)) > 1


def test_synthetic_set_is_rewritten_when_incomplete_and_checks_its_arguments(tmp_path):
    from mmwsss.datasets import make_synthetic_voc
    root = str(tmp_path / 'syn')
    make_synthetic_voc(root, num_train=3, num_val=2, size=32)
    jpg = osp.join(root, 'JPEGImages', 'syn_train_00001.jpg')
    original = open(jpg, 'rb').read()
    os.remove(jpg)  # a file lost after the set was made: a re-run restores it
    make_synthetic_voc(root, num_train=3, num_val=2, size=32)
    assert open(jpg, 'rb').read() == original
    # a rebuild with other settings, interrupted: the old stamp must not vouch for the mix
    import mmwsss.datasets.synthetic as synthetic
    real_render, calls = synthetic.render_sample, []

    def render_then_stop(*args):
        calls.append(args)
        if len(calls) > 2:
            raise KeyboardInterrupt
        return real_render(*args)
    synthetic.render_sample = render_then_stop
    try:
        with pytest.raises(KeyboardInterrupt):
            make_synthetic_voc(root, num_train=3, num_val=2, size=48)
    finally:
        synthetic.render_sample = real_render
    assert not osp.exists(osp.join(root, 'meta.json'))
    assert not [f for f in os.listdir(osp.join(root, 'JPEGImages')) if not f.endswith('.jpg')]
    make_synthetic_voc(root, num_train=3, num_val=2, size=32)  # rebuilt, not trusted
    assert {mmcv.imread(osp.join(root, 'JPEGImages', f)).shape[:2]
            for f in os.listdir(osp.join(root, 'JPEGImages'))} == {(32, 32)}
    assert open(jpg, 'rb').read() == original
    with pytest.raises(ValueError, match='size 13'):
        make_synthetic_voc(str(tmp_path / 'small'), num_train=3, num_val=2, size=13)
    with pytest.raises(ValueError, match='num_train 0'):
        make_synthetic_voc(str(tmp_path / 'none'), num_train=0, num_val=2)
    assert not osp.exists(tmp_path / 'small') and not osp.exists(tmp_path / 'none')


def test_synthetic_objects_have_class_specific_colour():
    """Each class's pixels have a distinct mean colour: the set is learnable, not noise."""
    means = {c: [] for c in range(1, 6)}
    for i in range(60):
        img, mask = render_sample(i, 64)
        for c in range(1, 6):
            if (mask == c).sum() > 30:
                means[c].append(img[mask == c].mean(0))
    centres = np.array([np.mean(means[c], 0) for c in range(1, 6)])
    dists = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
    assert dists[~np.eye(5, dtype=bool)].min() > 20


def test_tiny_voc_layout_and_labels(tiny_voc):
    names = open(osp.join(tiny_voc, 'ImageSets/Segmentation/train_aug.txt')).read().split()
    labels = json.load(open(osp.join(tiny_voc, 'cls_labels.json')))
    assert len(names) == 24
    for n in names[:5]:
        mask = load_label_png(osp.join(tiny_voc, 'SegmentationClassAug', n + '.png'))
        assert labels[n] == sorted(set(np.unique(mask).tolist()) - {0})


def test_dataset_labels_from_file_and_from_masks_agree(tiny_voc):
    from_file = SyntheticVOCDataset(data_root=tiny_voc, data_prefix=PREFIX,
                                    img_labels_file='cls_labels.json', pipeline=[])
    from_masks = SyntheticVOCDataset(data_root=tiny_voc, data_prefix=PREFIX, pipeline=[
        dict(type='LoadAnnotations'), dict(type='LoadImageLevelLabels')])
    for i in range(5):
        assert from_file.get_data_info(i)['img_labels'] == from_masks[i]['img_labels']


def test_pack_cam_inputs(tiny_voc):
    ds = SyntheticVOCDataset(data_root=tiny_voc, data_prefix=PREFIX,
                             img_labels_file='cls_labels.json', pipeline=[
                                 dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                                 dict(type='LoadImageLevelLabels'), dict(type='PackCAMInputs')])
    item = ds[0]
    sample = item['data_samples']
    assert item['inputs'].shape == (3, 64, 64)
    assert sample.gt_img_labels.tolist() == ds.get_data_info(0)['img_labels']
    assert sample.gt_sem_seg.data.shape == (1, 64, 64)


def test_missing_mask_and_bad_labels_are_named(tiny_voc, tmp_path):
    root = str(tmp_path / 'voc')
    shutil.copytree(tiny_voc, root)
    os.remove(osp.join(root, 'SegmentationClassAug', 'syn_train_00003.png'))
    with pytest.raises(FileNotFoundError, match='syn_train_00003.png'):
        SyntheticVOCDataset(data_root=root, data_prefix=PREFIX)
    # image-level-only data is fine without masks
    SyntheticVOCDataset(data_root=root, data_prefix=dict(img_path='JPEGImages'),
                        img_labels_file='cls_labels.json', require_masks=False)
    labels = json.load(open(osp.join(root, 'cls_labels.json')))
    labels['syn_train_00001'] = [7]  # no class 7 in the synthetic set
    json.dump(labels, open(osp.join(root, 'cls_labels.json'), 'w'))
    with pytest.raises(ValueError, match=r"syn_train_00001.*\[7\]"):
        SyntheticVOCDataset(data_root=root, data_prefix=PREFIX, img_labels_file='cls_labels.json')
    with pytest.raises(FileNotFoundError, match='nope.json'):
        SyntheticVOCDataset(data_root=root, data_prefix=PREFIX, img_labels_file='nope.json')
    open(osp.join(root, 'empty.txt'), 'w').write('\n')
    with pytest.raises(ValueError, match='empty.txt lists no images'):
        SyntheticVOCDataset(data_root=root, data_prefix=PREFIX, ann_file='empty.txt')
    # a labels file that is not JSON, or an entry that is not a list of class indices
    labels['syn_train_00001'] = ['disk', 'square']
    json.dump(labels, open(osp.join(root, 'cls_labels.json'), 'w'))
    with pytest.raises(ValueError, match=r"cls_labels.json: image 'syn_train_00001' has "
                                         r"\['disk', 'square'\]"):
        SyntheticVOCDataset(data_root=root, data_prefix=PREFIX, img_labels_file='cls_labels.json')
    open(osp.join(root, 'cls_labels.json'), 'w').write('{"syn_train_00000": [1')
    with pytest.raises(ValueError, match='cls_labels.json is not valid JSON'):
        SyntheticVOCDataset(data_root=root, data_prefix=PREFIX, img_labels_file='cls_labels.json')


def test_a_missing_training_image_is_named_when_the_dataset_is_built(tiny_voc, tmp_path):
    root = str(tmp_path / 'voc')
    shutil.copytree(tiny_voc, root)
    os.remove(osp.join(root, 'JPEGImages', 'syn_train_00004.jpg'))
    with pytest.raises(FileNotFoundError, match=r'1 of 24 images .*syn_train_00004.jpg'):
        SyntheticVOCDataset(data_root=root, data_prefix=PREFIX)
    # test / label splits report the image when it is loaded and go on with the others
    assert len(SyntheticVOCDataset(data_root=root, data_prefix=PREFIX, test_mode=True)) == 24


def test_unreadable_images_and_impossible_masks_are_named_when_loaded(tiny_voc, tmp_path):
    """The configs' LoadImageFromFile / LoadAnnotations (mmwsss's, checked): each broken file
    is an error naming it, instead of an OpenCV assertion, a loss's index error, or a
    wrong-size label map that trains silently."""
    from PIL import Image
    root = str(tmp_path / 'voc')
    shutil.copytree(tiny_voc, root)
    names = open(osp.join(root, 'ImageSets/Segmentation/train_aug.txt')).read().split()
    img, mask = osp.join(root, 'JPEGImages', '{}.jpg'), osp.join(root, 'SegmentationClassAug',
                                                                 '{}.png')
    open(img.format(names[0]), 'wb').close()  # empty image
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(mask.format(names[1]))  # colours
    save_label_png(np.zeros((48, 64), np.uint8), mask.format(names[2]))  # wrong size
    save_label_png(np.full((64, 64), 9, np.uint8), mask.format(names[3]))  # no class 9
    data = open(mask.format(names[4]), 'rb').read()
    open(mask.format(names[4]), 'wb').write(data[:len(data) // 2])  # truncated
    ds = SyntheticVOCDataset(data_root=root, data_prefix=PREFIX, test_mode=True, pipeline=[
        dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')])
    expected = [f'image .*{names[0]}.jpg cannot be read', f'mask .*{names[1]}.png decodes to '
                'shape \\(64, 64, 3\\)', f'mask .*{names[2]}.png is 64x48 but its image is 64x64',
                f'mask .*{names[3]}.png holds values \\[9\\]: labels are 0..5',
                f'mask .*{names[4]}.png cannot be read']
    for i, message in enumerate(expected):
        with pytest.raises(ValueError, match=message):
            ds[i]
    assert ds[5]['gt_seg_map'].shape == (64, 64)  # an intact pair loads as mmseg's would
    # a training set with skip_unreadable (the configs' train sets): each broken sample is
    # reported by name and another image is drawn in its place; evaluation still raises
    train = SyntheticVOCDataset(data_root=root, data_prefix=PREFIX, skip_unreadable=True,
                                pipeline=[dict(type='LoadImageFromFile'),
                                          dict(type='LoadAnnotations')])
    for i, message in enumerate(expected):
        with pytest.warns(UserWarning, match='skipped in training.*' + message):
            sample = train[i]
        assert osp.basename(sample['img_path'])[:-4] not in names[:5]  # an intact one instead
    train.test_mode = True
    with pytest.raises(ValueError, match=expected[0]):
        train[0]
    # an error of the pipeline itself, not of a file, would strike every image: raised

    @TRANSFORMS.register_module(force=True)
    class WronglySetTestTransform(BaseTransform):
        def transform(self, results):
            raise ValueError('scale must be positive')

    wrong = SyntheticVOCDataset(data_root=root, data_prefix=PREFIX, skip_unreadable=True,
                                pipeline=[dict(type='LoadImageFromFile'),
                                          dict(type='WronglySetTestTransform')])
    with pytest.raises(ValueError, match='scale must be positive'):
        wrong[5]


def test_load_image_level_labels_needs_a_source():
    t = TRANSFORMS.build(dict(type='LoadImageLevelLabels'))
    assert t.transform(dict(gt_seg_map=np.array([[0, 2], [255, 2]])))['img_labels'] == [2]
    with pytest.raises(KeyError, match='x.jpg'):
        t.transform(dict(img_path='x.jpg'))


def test_pseudo_label_dataset_reads_label_folder_and_names_missing(tiny_voc, tmp_path):
    labels = tmp_path / 'labels'
    names = open(osp.join(tiny_voc, 'ImageSets/Segmentation/train_aug.txt')).read().split()
    for n in names:
        save_label_png(np.full((64, 64), 1, np.uint8), str(labels / (n + '.png')))
    ds = SyntheticPseudoLabelDataset(
        data_root=tiny_voc, data_prefix=dict(img_path='JPEGImages', seg_map_path=str(labels)))
    assert ds.get_data_info(0)['seg_map_path'].startswith(str(labels))
    os.remove(labels / (names[2] + '.png'))
    with pytest.raises(FileNotFoundError, match=names[2]):
        PseudoLabelDataset(data_root=tiny_voc,
                           data_prefix=dict(img_path='JPEGImages', seg_map_path=str(labels)))
    with pytest.raises(FileNotFoundError, match='tools/make_pseudo_labels.py'):
        PseudoLabelDataset(data_root=tiny_voc,
                           data_prefix=dict(img_path='JPEGImages', seg_map_path='no_such_dir'))


def test_voc_and_coco_classes():
    assert len(VOCImageLevelDataset.METAINFO['classes']) == 21
    assert len(COCOImageLevelDataset.METAINFO['classes']) == 81


def _coco_fixture(root):
    """Two 20×20 images: one with a big cat (id 17), a small dog (id 18) on it, a crowd
    region; one without annotations."""
    os.makedirs(osp.join(root, 'annotations'))
    os.makedirs(osp.join(root, 'train2014'))
    import cv2
    for name in ('COCO_train2014_000000000001', 'COCO_train2014_000000000002'):
        cv2.imwrite(osp.join(root, 'train2014', name + '.jpg'), np.zeros((20, 20, 3), np.uint8))
    poly = lambda x0, y0, x1, y1: [[x0, y0, x1, y0, x1, y1, x0, y1]]  # noqa: E731
    cats = [dict(id=i, name=f'c{i}') for i in (1, 17, 18, 90)]  # ids are sparse in COCO
    anns = [
        dict(id=1, image_id=1, category_id=17, segmentation=poly(0, 0, 15, 15), area=225, iscrowd=0, bbox=[0, 0, 15, 15]),
        dict(id=2, image_id=1, category_id=18, segmentation=poly(5, 5, 10, 10), area=25, iscrowd=0, bbox=[5, 5, 5, 5]),
        dict(id=3, image_id=1, category_id=1, segmentation=dict(counts=[380, 20], size=[20, 20]), area=20, iscrowd=1, bbox=[19, 0, 1, 20]),
    ]
    imgs = [dict(id=i, file_name=f'COCO_train2014_00000000000{i}.jpg', height=20, width=20)
            for i in (1, 2)]
    json.dump(dict(images=imgs, annotations=anns, categories=cats),
              open(osp.join(root, 'annotations', 'instances_train2014.json'), 'w'))


def test_coco_to_semantic_and_dataset(tmp_path):
    from mmwsss.datasets.converters import coco_to_semantic
    root = str(tmp_path / 'coco')
    _coco_fixture(root)
    assert coco_to_semantic(root, 'train2014') == 1  # the image without annotations is left out
    mask = load_label_png(osp.join(root, 'SegmentationClass/train2014/COCO_train2014_000000000001.png'))
    # category ids (1, 17, 18, 90) -> labels (1, 2, 3, 4); the small dog is painted over the cat
    assert mask[2, 2] == 2 and mask[7, 7] == 3 and mask[18, 5] == 0
    assert (mask[:, 19] == 255).all()  # crowd column
    ds = COCOImageLevelDataset(data_root=root, data_prefix=dict(
        img_path='train2014', seg_map_path='SegmentationClass/train2014'),
        pipeline=[dict(type='LoadAnnotations'), dict(type='LoadImageLevelLabels')])
    assert len(ds) == 1 and ds[0]['img_labels'] == [2, 3]


def _tagged_jpeg(path, pixels, orientation):
    from PIL import Image
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(pixels).save(path, exif=exif.tobytes(), quality=100)


def test_exif_orientation_is_applied_as_opencv_decodes(tmp_path):
    from mmcv.transforms import LoadImageFromFile
    from mmwsss.utils.exif import apply_orientation, decoded_size
    rng = np.random.default_rng(0)  # 8x8 blocks of 0/255: no two turns of it are equal
    stored = np.kron(rng.integers(0, 2, (3, 5, 1)) * 255, np.ones((8, 8, 3))).astype(np.uint8)
    turns = []
    for orientation in range(1, 9):
        path = str(tmp_path / f'o{orientation}.jpg')
        _tagged_jpeg(path, stored, orientation)
        raw = LoadImageFromFile(color_type='color_ignore_orientation')(dict(img_path=path))
        decoded = LoadImageFromFile()(dict(img_path=path))['img']
        assert np.array_equal(apply_orientation(raw['img'], orientation), decoded)
        assert decoded_size(path) == decoded.shape[1::-1]
        turns.append(decoded[..., 0].tobytes() + bytes(decoded.shape[:2]))
    assert len(set(turns)) == 8
    with pytest.raises(ValueError, match='EXIF orientation 9'):
        apply_orientation(stored, 9)


def test_coco_masks_follow_the_exif_orientation_of_their_images(tmp_path):
    from mmwsss.datasets.converters import coco_to_semantic
    from mmwsss.datasets.transforms import check_label_map
    plain, turned = str(tmp_path / 'plain'), str(tmp_path / 'turned')
    for root in (plain, turned):
        _coco_fixture(root)
    image = osp.join(turned, 'train2014', 'COCO_train2014_000000000001.jpg')
    _tagged_jpeg(image, np.zeros((20, 20, 3), np.uint8), 6)  # shown turned 90 degrees clockwise
    for root in (plain, turned):
        coco_to_semantic(root, 'train2014')
    name = 'SegmentationClass/train2014/COCO_train2014_000000000001.png'
    as_annotated = load_label_png(osp.join(plain, name))
    assert np.array_equal(load_label_png(osp.join(turned, name)), np.rot90(as_annotated, -1))
    # an image whose size is not its annotation's, or that is missing, is named
    for root, setup, error in (
            (str(tmp_path / 'resized'),
             lambda p: _tagged_jpeg(p, np.zeros((20, 30, 3), np.uint8), 1),
             r'000001.jpg is 30x20 but its annotation says 20x20'),
            (str(tmp_path / 'missing'), os.remove, r'000001.jpg: image not found')):
        _coco_fixture(root)
        setup(osp.join(root, 'train2014', 'COCO_train2014_000000000001.jpg'))
        with pytest.raises((ValueError, FileNotFoundError), match=error):
            coco_to_semantic(root, 'train2014')
    # a mask left on the stored pixels of a sideways image is named as such when loaded
    wide = str(tmp_path / 'wide.jpg')
    _tagged_jpeg(wide, np.zeros((20, 30, 3), np.uint8), 8)
    with pytest.raises(ValueError, match=r'is 30x20 but its image is 20x30 .* EXIF orientation 8'):
        check_label_map(np.zeros((20, 30), np.uint8), 'm.png', (30, 20), img_path=wide)


def test_make_image_labels_matches_masks(tiny_voc, tmp_path):
    from mmwsss.datasets.converters import write_image_labels
    root = str(tmp_path / 'voc')
    shutil.copytree(tiny_voc, root)
    labels = write_image_labels(root, 'ImageSets/Segmentation/train_aug.txt',
                                'SegmentationClassAug', 'labels2.json')
    assert labels == {k: v for k, v in json.load(open(osp.join(root, 'cls_labels.json'))).items()
                      if k in labels}
    assert json.load(open(osp.join(root, 'labels2.json'))) == labels
    # with the class count, a mask value that is no class is named with its mask
    bad = osp.join(root, 'SegmentationClassAug', 'syn_train_00002.png')
    save_label_png(np.full((64, 64), 9, np.uint8), bad)
    with pytest.raises(ValueError, match=r'syn_train_00002.png holds values \[9\]'):
        write_image_labels(root, 'ImageSets/Segmentation/train_aug.txt',
                           'SegmentationClassAug', 'labels3.json', num_classes=6)


def test_label_png_reading_rejects_colour_images_and_keeps_indices(tmp_path):
    from PIL import Image
    rgb = tmp_path / 'coloured.png'
    Image.fromarray(np.zeros((2, 3, 3), np.uint8)).save(rgb)  # a VOC mask saved as colours
    with pytest.raises(ValueError, match='coloured.png is a RGB image'):
        load_label_png(str(rgb))
    wide = tmp_path / 'wide.png'
    Image.fromarray(np.array([[2, 300]], np.uint16)).save(wide)
    with pytest.raises(ValueError, match='wide.png: values 2..300'):
        load_label_png(str(wide))
    Image.fromarray(np.array([[2, 30]], np.uint16)).save(wide)
    assert load_label_png(str(wide)).tolist() == [[2, 30]]
    # written files get the permissions of the umask, as open() would give (not mkstemp's 0600)
    path = tmp_path / 'written.png'
    save_label_png(np.array([[0, 5, 255]], np.uint8), str(path))
    mask = os.umask(0)
    os.umask(mask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~mask
    assert load_label_png(str(path)).tolist() == [[0, 5, 255]]
    # a truncated file (an interrupted copy) is named
    cut = tmp_path / 'cut.png'
    save_label_png(np.random.default_rng(0).integers(0, 5, (64, 64), np.uint8), str(cut))
    cut.write_bytes(cut.read_bytes()[:120])
    with pytest.raises(ValueError, match='label map .*cut.png cannot be read'):
        load_label_png(str(cut))


def test_color_jitter_is_seams_pil_jitter_on_the_bgr_image():
    """``ColorJitter`` gives what SEAM's pipeline (torchvision's jitter on the RGB PIL image)
    gives for the same random draw; torchvision's tensor path rounds differently."""
    import torch
    from PIL import Image
    from torchvision.transforms import ColorJitter as TVColorJitter
    bgr = np.random.default_rng(0).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    jitter = TRANSFORMS.build(dict(type='ColorJitter', brightness=0.3, contrast=0.3,
                                   saturation=0.3, hue=0.1))
    for seed in range(3):
        torch.manual_seed(seed)
        ours = jitter(dict(img=bgr.copy()))['img']
        torch.manual_seed(seed)
        official = np.asarray(TVColorJitter(0.3, 0.3, 0.3, 0.1)(Image.fromarray(bgr[..., ::-1])))
        assert ours.dtype == np.uint8 and ours.shape == bgr.shape
        assert np.array_equal(ours, official[..., ::-1])
        assert not np.array_equal(ours, bgr)


def test_a_bad_mask_in_a_scored_split_is_named_with_its_problem(tiny_voc, tmp_path):
    """A mask dropped by LoadAnnotationsIfAny (here: the wrong size) is named with its problem
    where it is needed later, not blamed on the config or called absent."""
    import torch

    from conftest import CAM_CFG, load_cfg, tiny_overrides
    from mmwsss.evaluation import CAMMetric
    from mmwsss.registry import DATASETS
    root = str(tmp_path / 'voc')
    shutil.copytree(tiny_voc, root)
    name = open(osp.join(root, 'ImageSets/Segmentation/train_aug.txt')).read().split()[0]
    save_label_png(np.zeros((48, 64), np.uint8),
                   osp.join(root, 'SegmentationClassAug', name + '.png'))
    problem = f'mask .*{name}.png is 64x48 but its image is 64x64'
    cfg = load_cfg(CAM_CFG, tiny_overrides(root))
    # image-level labels read off the masks: this image has none to give
    test = dict(cfg.test_dataloader.dataset, img_labels_file=None)
    with pytest.warns(UserWarning, match=problem), pytest.raises(
            ValueError, match=f'{name}.jpg: no image-level labels .*mask cannot be used: '
            + problem):
        DATASETS.build(test)[0]
    # labels from cls_labels.json: the image is labelled, and scoring its CAM says why not
    with pytest.warns(UserWarning, match=problem):
        sample = DATASETS.build(cfg.pseudo_label_dataloader.dataset)[0]
    scored = dict(sample['data_samples'].to_dict(), pred_cam=dict(data=torch.zeros(5, 64, 64)))
    with pytest.raises(KeyError, match='no mask to score its CAM against .*mask cannot be '
                                       'used: ' + problem):
        CAMMetric().process(None, [scored])
