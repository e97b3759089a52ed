"""Registries, custom_imports from a plain mmseg config, missing weights."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from mmwsss.registry import LABEL_GENERATORS, MODELS
from mmwsss.utils import MissingFileError, check_config_checkpoints


def test_registries_are_children_of_mmseg():
    from mmseg.registry import MODELS as MMSEG_MODELS
    assert MODELS.parent is MMSEG_MODELS and MODELS.scope == 'mmwsss'
    assert MMSEG_MODELS.get('mmwsss.DeepLabV2Head') is MODELS.get('DeepLabV2Head')
    assert LABEL_GENERATORS.get('CAMLabelGenerator') is not None


def test_every_mmseg_registry_has_an_mmwsss_child():
    """A lookup in the mmwsss scope finds a registry of that scope in every tree mmseg has, so
    MMEngine does not warn that it fell back to its root (weight initialisers, log processors,
    runners, ...)."""
    import mmseg.registry as mmseg_registry
    from mmengine.registry import Registry

    import mmwsss.registry as ours
    parents = {id(getattr(ours, name).parent) for name in dir(ours)
               if isinstance(getattr(ours, name), Registry) and getattr(ours, name).parent}
    for name in dir(mmseg_registry):
        registry = getattr(mmseg_registry, name)
        if isinstance(registry, Registry) and name not in ('MODEL_WRAPPERS',
                                                           'OPTIM_WRAPPER_CONSTRUCTORS'):
            assert id(registry) in parents or 'mmwsss' in registry.children, name


def test_plain_mmseg_config_trains_with_custom_imports(tiny_voc, tmp_path):
    """An mmseg project (default_scope mmseg, its own dataset class) uses our head by name."""
    cfg = Config(dict(
        default_scope='mmseg',
        custom_imports=dict(imports=['mmwsss'], allow_failed_imports=False),
        work_dir=str(tmp_path),
        model=dict(
            type='EncoderDecoder',
            data_preprocessor=dict(type='SegDataPreProcessor', mean=[0, 0, 0], std=[255] * 3,
                                   size=(64, 64)),
            backbone=dict(type='ResNetV1c', depth=18, base_channels=8, stem_channels=8,
                          strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4),
                          norm_cfg=dict(type='BN')),
            decode_head=dict(type='mmwsss.DeepLabV2Head', in_channels=64, in_index=3,
                             dilations=(1, 2), num_classes=6,
                             loss_decode=dict(type='CrossEntropyLoss'))),
        train_dataloader=dict(
            batch_size=2, num_workers=0, sampler=dict(type='InfiniteSampler'),
            dataset=dict(type='BaseSegDataset', data_root=tiny_voc, img_suffix='.jpg',
                         seg_map_suffix='.png',
                         metainfo=dict(classes=('background', 'disk', 'square', 'triangle',
                                                'ring', 'cross'), palette=[[0, 0, 0]] * 6),
                         data_prefix=dict(img_path='JPEGImages',
                                          seg_map_path='SegmentationClassAug'),
                         ann_file='ImageSets/Segmentation/train_aug.txt',
                         pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                                   dict(type='PackSegInputs')])),
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=2),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False)),
    ))
    runner = Runner.from_cfg(cfg)
    head = runner.model.decode_head
    before = head.aspp[0].weight.detach().clone()
    runner.train()
    assert type(head).__module__.startswith('mmwsss')
    assert not torch.equal(before, head.aspp[0].weight)
    assert osp.isfile(osp.join(str(tmp_path), 'iter_2.pth'))


def test_mmwsss_models_build_from_an_mmseg_scope():
    """type='mmwsss.X' from a config whose default scope is mmseg builds X's own parts."""
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS as MMSEG_MODELS
    init_default_scope('mmseg')
    model = MMSEG_MODELS.build(dict(
        type='mmwsss.EquivariantCAMClassifier',
        data_preprocessor=dict(type='SegDataPreProcessor'),
        backbone=dict(type='ResNet', depth=18, base_channels=8, stem_channels=8,
                      out_indices=(1, 2, 3)),
        head=dict(type='CAMHead', in_channels=64, num_classes=2,
                  pooling=dict(type='importance_sampling'),
                  loss_cam=[dict(type='FeatureSimilarityLoss')]),
        cam_neck=dict(type='PCMNeck', in_channels=(16, 32))))
    assert type(model.head.pooling).__name__ == 'ImportanceSamplingPooling'
    assert type(model.loss_ecr).__name__ == 'EquivariantCrossRegularizationLoss'


def test_missing_pretrained_weights_named_before_building(tmp_path):
    cfg = Config.fromfile(osp.join(osp.dirname(__file__), '..',
                                   'configs/deeplabv2/deeplabv2_r101_1xb10-20k_voc12aug-pseudo-321x321.py'))
    with pytest.raises(MissingFileError, match='resnet101-imagenet.pth.*docs/checkpoints.md'):
        check_config_checkpoints(cfg)
    cfg.model.backbone.init_cfg.checkpoint = 'https://example.org/r101.pth'
    with pytest.raises(MissingFileError, match='does not download'):
        check_config_checkpoints(cfg)
    cfg.model.backbone.init_cfg = None
    check_config_checkpoints(cfg)  # random init: nothing to check
