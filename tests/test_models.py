"""CAM head, classifier, losses and DeepLab-v2 head."""
import math

import pytest
import torch
import torch.nn.functional as F
from mmseg.structures import SegDataSample

from mmwsss.registry import MODELS


TINY_BACKBONE = dict(type='ResNet', depth=18, stem_channels=8, base_channels=8, num_stages=4,
                     out_indices=(3, ), strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4),
                     norm_cfg=dict(type='BN', requires_grad=True), contract_dilation=True)


def tiny_classifier(**test_cfg):
    return MODELS.build(dict(
        type='CAMClassifier',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[0, 0, 0], std=[1, 1, 1]),
        backbone=TINY_BACKBONE,
        head=dict(type='CAMHead', in_channels=64, num_classes=3),
        test_cfg=test_cfg))


def sample(labels, shape=(32, 32)):
    ds = SegDataSample(metainfo=dict(ori_shape=shape, img_shape=shape))
    ds.set_field(torch.tensor(labels, dtype=torch.long), 'gt_img_labels')
    return ds


def test_multilabel_soft_margin_loss_by_hand():
    loss = MODELS.build(dict(type='MultiLabelSoftMarginLoss', loss_weight=2.0))
    logits = torch.tensor([[2.0, -1.0]])
    targets = torch.tensor([[1.0, 0.0]])
    # mean over classes of -log(sigmoid(x)) for positives, -log(1 - sigmoid(x)) for negatives
    expected = (math.log1p(math.exp(-2.0)) + math.log1p(math.exp(-1.0))) / 2
    assert torch.isclose(loss(logits, targets), torch.tensor(2 * expected))
    with pytest.raises(ValueError, match='same shape'):
        loss(logits, torch.ones(1, 3))


def test_gap_pooling_is_spatial_mean():
    head = MODELS.build(dict(type='CAMHead', in_channels=4, num_classes=2))
    cams = torch.randn(3, 2, 5, 7)
    assert torch.allclose(head.pool(cams), cams.mean((2, 3)))


def test_cam_head_loss_uses_image_labels():
    head = MODELS.build(dict(type='CAMHead', in_channels=4, num_classes=3))
    feats = torch.randn(2, 4, 6, 6)
    samples = [sample([1, 3]), sample([2])]
    losses = head.loss([feats], samples)
    logits = head.pool(head([feats]))
    targets = torch.tensor([[1.0, 0, 1], [0, 1, 0]])
    assert torch.isclose(losses['loss_cls'], F.multilabel_soft_margin_loss(logits, targets))
    with pytest.raises(ValueError, match='outside 1..3'):
        head.loss([feats], [sample([4]), sample([1])])


def test_classifier_trains_one_step():
    model = tiny_classifier()
    x = torch.rand(2, 3, 32, 32)
    losses = model.loss(x, [sample([1]), sample([2, 3])])
    losses['loss_cls'].backward()
    assert model.backbone.conv1.weight.grad is not None
    assert model.head.classifier.weight.grad.abs().sum() > 0


def test_predict_cams_normalised_at_original_size_and_absent_classes_zero():
    model = tiny_classifier(scales=(1.0, 0.5), flip=True).eval()
    x = torch.rand(1, 3, 32, 32)
    ds = sample([2], shape=(48, 40))  # the pipeline had resized a 48×40 image to 32×32
    with torch.no_grad():
        out = model.predict(x, [ds])[0]
    cam = out.pred_cam.data
    assert cam.shape == (3, 48, 40)
    assert cam.min() >= 0 and cam[1].max() <= 1
    assert cam[0].abs().sum() == 0 and cam[2].abs().sum() == 0  # classes 1, 3 absent
    label = out.pred_sem_seg.data[0]
    assert set(label.unique().tolist()) <= {0, 2}


def test_flip_averaging_makes_cams_flip_invariant():
    model = tiny_classifier(flip=True).eval()
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        a = model.inference_cams(x)
        b = model.inference_cams(x.flip(-1))
    assert torch.allclose(a, b.flip(-1), atol=1e-5)


def test_deeplabv2_head_is_sum_of_dilated_convs():
    head = MODELS.build(dict(type='DeepLabV2Head', in_channels=8, num_classes=4, in_index=0,
                             dilations=(1, 2, 3, 4)))
    head.init_weights()
    x = torch.randn(2, 8, 9, 9)
    expected = sum(F.conv2d(x, c.weight, c.bias, padding=d, dilation=d)
                   for c, d in zip(head.aspp, (1, 2, 3, 4)))
    assert torch.allclose(head([x]), expected, atol=1e-6)
    assert not hasattr(head, 'conv_seg')
    # DeepLab-v2 init: N(0, 0.01) weights, zero bias
    w = torch.cat([c.weight.flatten() for c in head.aspp])
    assert 0.005 < w.std() < 0.02 and all(c.bias.abs().sum() == 0 for c in head.aspp)


def test_torchvision_imagenet_weights_load_into_the_config_backbone(tmp_path):
    """The VOC configs' backbones take torchvision ImageNet checkpoints as they are."""
    import torchvision
    tv = torchvision.models.resnet18()
    path = str(tmp_path / 'resnet18-imagenet.pth')
    torch.save(tv.state_dict(), path)
    backbone = MODELS.build(dict(type='ResNet', depth=18, strides=(1, 2, 1, 1),
                                 dilations=(1, 1, 2, 4), contract_dilation=True,
                                 init_cfg=dict(type='Pretrained', checkpoint=path)))
    backbone.init_weights()
    assert torch.equal(backbone.layer3[1].conv2.weight, tv.layer3[1].conv2.weight)
    assert torch.equal(backbone.layer2[0].downsample[1].running_var,
                       tv.layer2[0].downsample[1].running_var)


@pytest.mark.parametrize('direction', ['horizontal', 'vertical', 'diagonal'])
def test_test_time_flip_of_the_pipeline_is_undone_in_each_direction(direction):
    from mmwsss.models.utils import to_original_size
    x = torch.arange(2 * 3 * 4, dtype=torch.float32).view(1, 2, 3, 4)
    dims = dict(horizontal=[-1], vertical=[-2], diagonal=[-2, -1])[direction]
    flipped = x.flip(dims)  # what the model saw after mmcv's RandomFlip
    meta = dict(img_shape=(3, 4), ori_shape=(3, 4), flip=True, flip_direction=direction)
    assert torch.equal(to_original_size(flipped, meta), x)
