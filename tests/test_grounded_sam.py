"""Grounded-SAM label generator: prompts, thresholds, mask merging, fallbacks, SAM batching,
checkpoint loading, and the label writer (resume, corrupt image, two ranks) with tiny models.

The models are mmdet's real ``GroundingDINO`` and segment_anything's real SAM classes with tiny
dimensions and random weights, saved to temporary checkpoints and loaded by the generator.
"""
import copy
import json
import os
import os.path as osp
import shutil

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate

from conftest import ROOT, as_cli, run_tool
from mmwsss.apis import generate_pseudo_labels
from mmwsss.datasets.coco_image_level import COCO_CLASSES
from mmwsss.datasets.voc_image_level import VOC_CLASSES
from mmwsss.label_generators import BaseLabelGenerator, GroundedSAMLabelGenerator
from mmwsss.label_generators.grounded_sam import merge_instance_masks
from mmwsss.label_generators.grounding_dino import (TINY_GROUNDING_DINO, select_detections,
                                                    sub_sentence_masks)
from mmwsss.label_generators.prompts import build_caption, build_class_phrases
from mmwsss.models.sam import (BatchedSamPredictor, build_sam, build_sam_model,
                               sam_input_size)
from mmwsss.models.utils import mask_priority_order, paint_masks
from mmwsss.registry import DATASETS, LABEL_GENERATORS
from mmwsss.utils.io import load_label_png
from mmwsss.utils.op_count import OpCounter

SYN_CFG = osp.join(ROOT, 'configs/grounded_sam/grounded-sam_swin-t-vit-h_1xb4_synthetic.py')
VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', '.', '?', 'disk', 'square', 'triangle',
         'ring', 'cross']
# the package's tiny Grounding DINO with a learnable logit scale: tests set it to pin every
# token probability to 0.5
TINY_DETECTOR = dict(TINY_GROUNDING_DINO,
                     bbox_head=dict(contrastive_cfg=dict(max_text_len=256, log_scale=0.0)))


# ------------------------------------------------------------------ tiny models on disk
@pytest.fixture(scope='module')
def tiny_models(tmp_path_factory):
    """Paths of a tiny BERT folder, a Grounding DINO checkpoint and a SAM checkpoint."""
    from transformers import BertConfig, BertModel, BertTokenizerFast
    from mmwsss.label_generators.grounding_dino import build_grounding_dino
    root = tmp_path_factory.mktemp('gsam_models')
    bert = str(root / 'bert')
    os.makedirs(bert)
    with open(osp.join(bert, 'vocab.txt'), 'w') as f:
        f.write('\n'.join(VOCAB) + '\n')
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=len(VOCAB), hidden_size=32, num_hidden_layers=1,
                         num_attention_heads=2, intermediate_size=64,
                         max_position_embeddings=64)).save_pretrained(bert)
    BertTokenizerFast(vocab_file=osp.join(bert, 'vocab.txt')).save_pretrained(bert)
    cfg = Config.fromfile(SYN_CFG)
    cfg.merge_from_dict({'label_generator': dict(detector=TINY_DETECTOR)})
    det = build_grounding_dino(cfg.label_generator.detector.to_dict(), None, bert)
    det_ckpt = str(root / 'gdino_tiny.pth')
    torch.save(dict(state_dict=det.state_dict()), det_ckpt)
    sam_ckpt = str(root / 'sam_tiny.pth')
    torch.save(build_sam_model('tiny').state_dict(), sam_ckpt)
    return dict(text_encoder=bert, detector_checkpoint=det_ckpt, sam_checkpoint=sam_ckpt)


def _gen_overrides(models, **kw):
    gen = dict(detector=TINY_DETECTOR, sam_type='tiny', detector_scale=(64, 64), device='cpu',
               **models)
    gen.update(kw)
    return gen


def _cfg(root, models, **kw):
    cfg = Config.fromfile(SYN_CFG)
    cfg.merge_from_dict({'pseudo_label_dataloader.dataset.data_root': root,
                         'pseudo_label_dataloader.num_workers': 0,
                         'pseudo_label_dataloader.persistent_workers': False,
                         'label_generator': _gen_overrides(models, **kw)})
    return cfg


def _build(root, models, **kw):
    return LABEL_GENERATORS.build(_cfg(root, models, **kw).label_generator)


def _batches(root, batch_size=4, limit=None):
    cfg = Config.fromfile(SYN_CFG)
    cfg.pseudo_label_dataloader.dataset.data_root = root
    ds = DATASETS.build(cfg.pseudo_label_dataloader.dataset)
    n = len(ds) if limit is None else min(limit, len(ds))
    return [pseudo_collate([ds[j] for j in range(i, min(i + batch_size, n))])
            for i in range(0, n, batch_size)]


def _pinned(gen, **options):
    """A generator on a copy of ``gen``'s models whose token probabilities are all 0.5 (the
    contrastive logits scaled by exp(-1e4)), so thresholds decide exactly what passes."""
    det = copy.deepcopy(gen.detector)
    for branch in det.bbox_head.cls_branches:
        branch.log_scale.data.fill_(-1e4)
    options.setdefault('detector_scale', gen.detector_scale)
    return GroundedSAMLabelGenerator.from_models(det, gen.sam.sam, gen.classes, device='cpu',
                                                 **options)


@pytest.fixture(scope='module')
def gen(tiny_voc, tiny_models):
    return _build(tiny_voc, tiny_models, fallback='background')


@pytest.fixture(scope='module')
def batches(tiny_voc):
    return _batches(tiny_voc, batch_size=4, limit=8)


# ------------------------------------------------------------------ prompts
def test_class_phrases_follow_the_reference_and_reject_unknown_classes():
    voc = build_class_phrases(VOC_CLASSES)
    idx = {c: i for i, c in enumerate(VOC_CLASSES)}
    assert voc[idx['horse']] == ['horse', 'halter', 'saddle']
    assert voc[idx['diningtable']] == ['dining table', 'bowl', 'plate', 'food', 'fruit',
                                       'glass', 'dishes']
    assert voc[idx['tvmonitor']] == ['tv monitor', 'tv', 'monitor']
    assert voc[idx['pottedplant']] == ['potted plant'] and voc[idx['cat']] == ['cat']
    assert 0 not in voc and len(voc) == 20
    # COCO names are readable; the VOC synonyms must not leak into COCO's own classes
    coco = build_class_phrases(COCO_CLASSES)
    assert coco[COCO_CLASSES.index('dining table')] == ['dining table']
    assert coco[COCO_CLASSES.index('tv')] == ['tv']
    own = build_class_phrases(VOC_CLASSES, prompts={'sofa': ['sofa', 'couch'], 'cat': 'kitten'})
    assert own[idx['sofa']] == ['sofa', 'couch'] and own[idx['cat']] == ['kitten']
    assert build_class_phrases(VOC_CLASSES, default_prompts=False)[idx['horse']] == ['horse']
    with pytest.raises(ValueError, match='chiar'):
        build_class_phrases(VOC_CLASSES, prompts={'chiar': ['chair']})
    with pytest.raises(ValueError, match='background'):
        build_class_phrases(VOC_CLASSES, prompts={'background': ['sky']})
    with pytest.raises(ValueError, match="'.'"):
        build_class_phrases(VOC_CLASSES, prompts={'cat': ['cat . dog']})


def test_caption_has_only_present_classes_and_maps_phrases_back():
    phrases = build_class_phrases(VOC_CLASSES)
    caption, spans, classes = build_caption([13, 1], phrases)  # horse, aeroplane
    assert caption == 'aeroplane . horse . halter . saddle .'
    assert [caption[a:b] for a, b in spans] == ['aeroplane', 'horse', 'halter', 'saddle']
    assert classes == [1, 13, 13, 13]
    assert build_caption([], phrases) == ('', [], [])


def test_generator_prompts_only_present_classes(gen, batches):
    names = gen.classes
    for batch in batches:
        gen.generate(batch)
        for ds, caption, det in zip(batch['data_samples'], gen.last_captions,
                                    gen.last_detections):
            present = ds.gt_img_labels.tolist()
            words = set(caption.replace('.', ' ').split())
            assert words == {names[c] for c in present}
            assert set(det['classes'].tolist()) <= set(present)


def test_a_prompt_too_long_for_the_text_encoder_is_split_by_class(gen, batches):
    # 31-token phrases: one class makes a 34-token prompt, two make 66, over the tiny BERT's 64
    long = {name: f'{name} ' + ' '.join(['ring'] * 30) for name in gen.classes[1:]}
    split = _pinned(gen, prompts=long, box_threshold=0.4, fallback='ignore')
    assert split.max_prompt_tokens == 64
    chunked = 0
    for batch in batches:
        split.generate(batch)
        for ds, prompts, det in zip(batch['data_samples'], split.last_prompts,
                                    split.last_detections):
            present = sorted(_present(ds))
            assert len(prompts) == len(present)  # as few prompts as fit: one class each
            assert all(split._prompt_length(p) <= 64 for p in prompts)
            assert sorted(p.split()[0] for p in prompts) == sorted(gen.classes[c]
                                                                   for c in present)
            # every probability is 0.5: each prompt's 20 queries pass, with its own class
            counts = np.bincount(det['classes'].numpy(), minlength=len(gen.classes))
            assert counts[present].tolist() == [20] * len(present)
            assert counts.sum() == 20 * len(present)
            chunked += len(present) > 1
    assert chunked  # the batches hold images with several classes
    capped = _pinned(gen, prompts=long, box_threshold=0.4, max_detections=30)
    capped.generate(batches[0])
    assert max(len(d['boxes']) for d in capped.last_detections) == 30
    # a prompt that fits stays one caption
    assert _pinned(gen).prompt_chunks([1, 2, 3]) == [build_caption([1, 2, 3], gen.class_phrases)]
    # a class whose phrases alone do not fit is an error when the generator is built
    with pytest.raises(ValueError, match="class 'disk'.* 68 tokens, longer than the text "
                                         r'encoder takes \(64\)'):
        _pinned(gen, prompts={'disk': ' '.join(['ring'] * 65)})


def test_sub_sentence_masks_equal_mmdets_without_device_reads():
    from mmdet.models.language_models.bert import \
        generate_masks_with_special_tokens_and_transfer_map as mmdet_masks
    special = [101, 102, 1012]
    rng = np.random.default_rng(0)
    ids = rng.integers(2000, 3000, (4, 12))
    ids[:, 0] = 101
    ids[0, [3, 6, 7]] = 1012  # phrases of 2, 2 and 0 tokens
    ids[0, 8:] = [102, 0, 0, 0]  # padding after [SEP]
    ids[1, [5, 11]] = [1012, 102]  # [SEP] as the last token
    ids[2, 4] = 1012  # a phrase then tokens never closed
    ids[3, 0] = 2500  # a caption that does not open with a special token
    ids[3, 9] = 1012
    attention, positions = sub_sentence_masks(ids, special)
    want_attention, want_positions = mmdet_masks({'input_ids': torch.from_numpy(ids)}, special)
    assert (attention == want_attention.numpy()).all()
    assert (positions == want_positions.numpy()).all()
    assert positions[0, 1:4].tolist() == [0, 1, 2] and attention[0, 5, 4] and \
        not attention[0, 5, 2]


def test_text_encoder_gives_mmdets_features_without_host_syncs(gen):
    captions = ['disk . square .', 'ring .', 'cross . disk . triangle . ring .']
    lm = gen.detector.language_model
    with OpCounter() as ours:
        got = gen.encode_text(captions)
    with OpCounter() as theirs:
        want = lm(captions)
    assert set(got) == set(want)
    for key in want:
        assert torch.equal(got[key], want[key]), key
    assert not ours.syncs
    assert theirs.syncs.get('aten::_local_scalar_dense', 0) >= 2 * 3 * len(captions)


# ------------------------------------------------------------------ detections
def test_select_detections_applies_both_thresholds_and_maps_phrases():
    probs = torch.zeros(5, 12)
    probs[0, [1, 2]] = torch.tensor([0.9, 0.2])  # phrase 0 (tokens 1, 2): 0.9
    probs[1, 4] = 0.35  # phrase 1, just above the box threshold
    probs[2, 6] = 0.29  # below the box threshold
    probs[3, [4, 6]] = torch.tensor([0.5, 0.6])  # phrases 1 and 2 detected: the best is 2
    probs[4, 9] = 0.99  # a token outside every phrase (a separator): no detection
    boxes = torch.tensor([[0.5, 0.5, 0.2, 0.4]] * 5)
    tokens = [torch.tensor([1, 2]), torch.tensor([4]), torch.tensor([6])]
    xyxy, scores, phrase = select_detections(probs, boxes, tokens, 0.3, 0.25)
    assert phrase.tolist() == [0, 2, 1] and scores.tolist() == pytest.approx([0.9, 0.6, 0.35])
    assert xyxy[0].tolist() == pytest.approx([0.4, 0.3, 0.6, 0.7])  # cxcywh -> xyxy
    # text threshold above a phrase's best token: that phrase is not detected
    _, _, phrase = select_detections(probs, boxes, tokens, 0.3, 0.55)
    assert phrase.tolist() == [0, 2]
    assert len(select_detections(probs, boxes, tokens, 0.95, 0.25)[0]) == 0
    assert select_detections(probs, boxes, tokens, 0.3, 0.25, max_detections=2)[2].tolist() \
        == [0, 2]


def test_merge_overlaps_by_score_then_area():
    masks = torch.zeros(4, 6, 6, dtype=torch.bool)
    masks[0, :4, :4] = True  # class 1, score 0.5, area 16
    masks[1, 2:6, 2:6] = True  # class 2, score 0.9, area 16: wins the overlap with 0
    masks[2, 0:2, 4:6] = True  # class 3, score 0.5, area 4
    masks[3, 0:2, 3:6] = True  # class 4, score 0.5, area 6: loses to the smaller mask 2
    out = merge_instance_masks(masks, torch.tensor([1, 2, 3, 4]),
                               torch.tensor([0.5, 0.9, 0.5, 0.5]))
    assert out[3, 3] == 2 and out[2, 2] == 2 and out[0, 0] == 1
    assert out[0, 4] == 3 and out[1, 5] == 3  # equal scores: smaller area
    assert out[0, 3] == 4  # covered by 0 (area 16) and 3 (area 6): smaller wins
    assert out[5, 0] == 0  # outside all masks
    # equal score and area: the earlier detection wins
    twin = torch.zeros(2, 2, 2, dtype=torch.bool)
    twin[:, 0, 0] = True
    assert merge_instance_masks(twin, torch.tensor([5, 6]), torch.tensor([0.4, 0.4]))[0, 0] == 5
    assert (merge_instance_masks(torch.zeros(0, 3, 3, dtype=torch.bool), torch.zeros(0),
                                 torch.zeros(0)) == 0).all()


@LABEL_GENERATORS.register_module(force=True)
class FirstClassTestGenerator(BaseLabelGenerator):
    """Stands in for a CAM generator: the first present class everywhere."""
    calls = []

    def generate(self, data_batch):
        FirstClassTestGenerator.calls.append(len(data_batch['inputs']))
        return [np.full(img.shape[-2:], self.present_classes(ds)[0], np.uint8)
                for img, ds in zip(data_batch['inputs'], data_batch['data_samples'])]


def _present(ds):
    return set(ds.gt_img_labels.tolist())


def test_box_and_text_thresholds_decide_and_each_fallback_applies(gen, batches):
    batch = batches[0]
    # every probability is 0.5: a box threshold of 0.4 passes every query of every image
    passing = _pinned(gen, box_threshold=0.4, fallback='ignore')
    labels = passing.generate(batch)
    assert all(len(d['boxes']) == 20 for d in passing.last_detections)  # all queries
    assert all((lab != 255).all() for lab in labels)  # no fallback
    for det, ds in zip(passing.last_detections, batch['data_samples']):
        w, h = ds.ori_shape[1], ds.ori_shape[0]
        b = det['boxes']
        assert (b[:, 0] >= 0).all() and (b[:, 2] <= w).all() and (b[:, 3] <= h).all()
        assert set(det['classes'].tolist()) <= _present(ds)
    # nothing passes: a box threshold above 0.5, or a text threshold above 0.5
    for opts in (dict(box_threshold=0.6), dict(box_threshold=0.4, text_threshold=0.6)):
        ignore = _pinned(gen, fallback='ignore', **opts)
        assert all((lab == 255).all() for lab in ignore.generate(batch))
        assert all(len(d['boxes']) == 0 for d in ignore.last_detections)
        bg = _pinned(gen, fallback='background', **opts)
        assert all((lab == 0).all() for lab in bg.generate(batch))
    # 'cam': the other generator labels exactly the images without boxes; an image whose
    # image-level label is empty has nothing to look for and is background
    mixed = dict(inputs=list(batch['inputs']), data_samples=list(batch['data_samples']))
    empty = copy.deepcopy(mixed['data_samples'][1])
    empty.set_field(torch.zeros(0, dtype=torch.long), 'gt_img_labels')
    mixed['data_samples'][1] = empty
    FirstClassTestGenerator.calls.clear()
    cam = _pinned(gen, box_threshold=0.6, fallback='cam',
                  fallback_generator=dict(type='FirstClassTestGenerator'))
    labels = cam.generate(mixed)
    assert FirstClassTestGenerator.calls == [len(batch['inputs']) - 1]
    assert cam.last_captions[1] == '' and (labels[1] == 0).all()
    for i, (lab, ds) in enumerate(zip(labels, mixed['data_samples'])):
        if i != 1:
            assert (lab == min(ds.gt_img_labels.tolist())).all()
    with pytest.raises(ValueError, match='fallback_generator'):
        _pinned(gen, fallback='cam')
    with pytest.raises(ValueError, match='fallback'):
        _pinned(gen, fallback='nothing')


def test_labels_are_in_range_and_weights_come_from_the_checkpoints(gen, batches, tiny_voc,
                                                                    tiny_models):
    torch.manual_seed(1234)  # another random initialisation: the checkpoints must replace it
    other = _build(tiny_voc, tiny_models, fallback='background')
    a_gen = _pinned(gen, box_threshold=0.4, max_detections=5)
    b_gen = _pinned(other, box_threshold=0.4, max_detections=5)
    batch = batches[0]
    foreground = 0
    for la, lb, ds in zip(a_gen.generate(batch), b_gen.generate(batch), batch['data_samples']):
        assert la.dtype == np.uint8 and la.shape == tuple(ds.ori_shape[:2])
        assert set(np.unique(la).tolist()) <= _present(ds) | {0}
        np.testing.assert_array_equal(la, lb)
        foreground += int((la > 0).sum())
    assert foreground > 0  # the masks did label something
    assert all(len(d['boxes']) == 5 for d in a_gen.last_detections)
    # unpinned, with the default thresholds: still only present classes, or 0
    for lab, ds in zip(gen.generate(batches[1]), batches[1]['data_samples']):
        assert lab.shape == tuple(ds.ori_shape[:2])
        assert set(np.unique(lab).tolist()) <= _present(ds) | {0}


# ------------------------------------------------------------------ SAM
def test_batched_sam_matches_sam_predictor_per_image():
    from segment_anything import SamPredictor
    from segment_anything.utils.transforms import ResizeLongestSide
    torch.manual_seed(0)
    sam = build_sam_model('tiny')
    g = torch.Generator().manual_seed(0)
    images = [torch.randint(0, 256, s, dtype=torch.uint8, generator=g)
              for s in ((3, 48, 80), (3, 40, 40), (3, 70, 50))]
    boxes = [torch.tensor([[5., 5, 40, 30], [10, 2, 70, 45]]), torch.zeros(0, 4),
             torch.tensor([[3., 10, 45, 60], [0, 0, 50, 70], [20, 20, 30, 30]])]
    # decoder chunks of 2 prompts: chunks mix prompts of different images
    batched = BatchedSamPredictor(sam, precision='fp32', decoder_batch_size=2)
    feats = batched.encode([images[0], images[2]])
    low, _ = batched.decode(feats, torch.tensor([0, 0, 1, 1, 1]), torch.cat([boxes[0], boxes[2]]))
    logits = [batched.postprocess(low[:2], feats, 0, return_logits=True),
              batched.postprocess(low[2:], feats, 1, return_logits=True)]
    masks = batched.predict_boxes(images, boxes)
    assert masks[1].shape == (0, 40, 40)
    ref = SamPredictor(sam)
    for img, b, lg, m in zip([images[0], images[2]], [boxes[0], boxes[2]], logits,
                             [masks[0], masks[2]]):
        h, w = img.shape[-2:]
        x = torch.nn.functional.interpolate(img[None].float(), sam_input_size(h, w, 64),
                                            mode='bilinear', antialias=True)
        ref.set_torch_image(x, (h, w))
        r, _, _ = ref.predict_torch(None, None, boxes=ResizeLongestSide(64).apply_boxes_torch(
            b, (h, w)), multimask_output=False, return_logits=True)
        assert lg.shape == (len(b), h, w)
        assert torch.allclose(lg, r[:, 0], atol=1e-4)
        assert ((r[:, 0] > 0) == m).float().mean() > 0.999
    # bf16 autocast (CPU here): the same masks almost everywhere
    bf16 = BatchedSamPredictor(sam, precision='bf16').predict_boxes(images, boxes)
    agree = torch.cat([(a == b).flatten() for a, b in zip(masks, bf16)]).float().mean()
    assert agree > 0.95
    assert not BatchedSamPredictor(sam).use_bf16  # 'auto' is fp32 off CUDA


def test_build_sam_checks_the_checkpoint(tiny_models, tmp_path):
    with pytest.raises(FileNotFoundError, match='sam_vit_h_4b8939.pth') as err:
        build_sam('vit_h', str(tmp_path / 'no_sam.pth'))
    assert 'no_sam.pth' in str(err.value) and 'segment-anything' in str(err.value)
    with pytest.raises(ValueError, match='not a SAM'):
        build_sam(dict(encoder_embed_dim=48), tiny_models['sam_checkpoint'])
    sam = build_sam('tiny', tiny_models['sam_checkpoint'])
    saved = torch.load(tiny_models['sam_checkpoint'])
    assert all(torch.equal(v, saved[k]) for k, v in sam.state_dict().items())
    # a truncated download: the error names the file
    cut = tmp_path / 'sam_cut.pth'
    cut.write_bytes(open(tiny_models['sam_checkpoint'], 'rb').read()[:1000])
    with pytest.raises(ValueError, match='sam_cut.pth is truncated or damaged'):
        build_sam('tiny', str(cut))


# ------------------------------------------------------------------ configs and the writer
def test_configs_build_the_generator_options():
    from mmwsss.label_generators.grounded_sam import resolve_classes
    for name, classes in (('1xb8_voc12aug', VOC_CLASSES), ('1xb8_coco14', COCO_CLASSES)):
        cfg = Config.fromfile(
            osp.join(ROOT, f'configs/grounded_sam/grounded-sam_swin-t-vit-h_{name}.py'))
        gen_cfg = cfg.label_generator
        assert gen_cfg.type == 'GroundedSAMLabelGenerator'
        assert resolve_classes(gen_cfg.classes) == tuple(classes)
        assert (gen_cfg.box_threshold, gen_cfg.text_threshold) == (0.3, 0.25)
        assert gen_cfg.detector.backbone.embed_dims == 96  # Swin-T
    assert cfg.pseudo_label_dataloader.dataset.type == 'COCOImageLevelDataset'
    # the dict options a user adds in a child config merge into the base's label_generator
    voc = osp.join(ROOT, 'configs/grounded_sam/grounded-sam_swin-t-vit-h_1xb8_voc12aug.py')
    child = Config.fromstring(
        f'_base_ = [{voc!r}]\n'
        "label_generator = dict(prompts=dict(sofa=['sofa', 'couch']), fallback='cam', "
        "fallback_generator=dict(type='CAMLabelGenerator', config='c.py', checkpoint='c.pth'))\n",
        '.py')
    assert child.label_generator.prompts == dict(sofa=['sofa', 'couch'])
    assert child.label_generator.fallback_generator.type == 'CAMLabelGenerator'


def test_missing_files_are_clear_errors(tiny_voc, tiny_models, tmp_path):
    for key in ('detector_checkpoint', 'sam_checkpoint', 'text_encoder'):
        bad = dict(tiny_models, **{key: str(tmp_path / f'missing_{key}')})
        with pytest.raises(FileNotFoundError, match=f'missing_{key}'):
            generate_pseudo_labels(_cfg(tiny_voc, bad), str(tmp_path / 'out'), num_workers=0)
    # a BERT folder with its config only: named, with what it lacks
    partial = tmp_path / 'bert_config_only'
    partial.mkdir()
    shutil.copy(osp.join(tiny_models['text_encoder'], 'config.json'), partial)
    with pytest.raises(FileNotFoundError, match=r'bert_config_only lacks the tokenizer .* and '
                                                r'the weights'):
        _build(tiny_voc, dict(tiny_models, text_encoder=str(partial)))
    # a detector checkpoint with half its weights: named (its weights would stay random)
    ckpt = torch.load(tiny_models['detector_checkpoint'], map_location='cpu')
    keys = sorted(ckpt['state_dict'])
    ckpt['state_dict'] = {k: ckpt['state_dict'][k] for k in keys[::2]}
    torch.save(ckpt, str(tmp_path / 'gdino_half.pth'))
    half = dict(tiny_models, detector_checkpoint=str(tmp_path / 'gdino_half.pth'))
    with pytest.raises(ValueError, match=r"gdino_half.pth: \d+ of the detector's \d+ weights"):
        _build(tiny_voc, half)
    # a BERT of another width than the checkpoint's text path: the BERT folder is named
    from transformers import BertConfig, BertModel
    wide = str(tmp_path / 'bert_wide')
    shutil.copytree(tiny_models['text_encoder'], wide)
    BertModel(BertConfig(vocab_size=len(VOCAB), hidden_size=48, num_hidden_layers=1,
                         num_attention_heads=2, intermediate_size=64,
                         max_position_embeddings=64)).save_pretrained(wide)
    with pytest.raises(ValueError, match=r'weights have other shapes than the model .*'
                                         r'text_feat_map.weight \(256, 32\) vs \(256, 48\).* '
                                         r'the text encoder .*bert_wide is not the BERT'):
        _build(tiny_voc, dict(tiny_models, text_encoder=wide))
    with pytest.raises(ValueError, match='box_threshold 1.5: token probabilities lie in 0..1'):
        _build(tiny_voc, tiny_models, box_threshold=1.5)
    # options of other generators: named, not an internal TypeError
    proc = run_tool('tools/make_pseudo_labels.py', SYN_CFG, '--out', str(tmp_path / 'o'),
                    '--bg-threshold', '0.3', check=False)
    assert proc.returncode != 0 and ('--bg-threshold / --metrics: GroundedSAMLabelGenerator has '
                                     'no such setting') in proc.stderr


def _names(root):
    return open(osp.join(root, 'ImageSets/Segmentation/train_aug.txt')).read().split()


def _subset(src, dst, n):
    """A copy of the synthetic set whose label split has its first ``n`` images only."""
    shutil.copytree(src, dst)
    split = osp.join(dst, 'ImageSets/Segmentation/train_aug.txt')
    names = _names(dst)[:n]
    with open(split, 'w') as f:
        f.write('\n'.join(names) + '\n')
    return names


def test_writer_resumes_and_reports_a_corrupt_image(tiny_voc, tiny_models, tmp_path):
    root = str(tmp_path / 'voc')
    names = _subset(tiny_voc, root, 10)
    bad = names[3]
    with open(osp.join(root, 'JPEGImages', bad + '.jpg'), 'wb') as f:
        f.write(b'not a jpeg')
    out = str(tmp_path / 'labels')
    cfg = _cfg(root, tiny_models, fallback='ignore')
    report = generate_pseudo_labels(cfg, out, batch_size=4, num_workers=0)
    assert report['failed'] == 1 and report['written'] == len(names) - 1
    assert bad in report['failures'][0]['img_path']
    img_labels = json.load(open(osp.join(root, 'cls_labels.json')))
    for n in names:
        if n != bad:
            lab = load_label_png(osp.join(out, n + '.png'))
            assert lab.shape == (64, 64)
            assert set(np.unique(lab).tolist()) <= set(img_labels[n]) | {0, 255}
    keep = osp.join(out, names[0] + '.png')
    os.utime(keep, (1, 1))
    os.remove(osp.join(out, names[5] + '.png'))
    report = generate_pseudo_labels(cfg, out, batch_size=4, num_workers=0)
    assert report['written'] == 1 and report['failed'] == 1
    assert report['skipped_existing'] == len(names) - 2
    assert os.stat(keep).st_mtime == 1 and osp.isfile(osp.join(out, names[5] + '.png'))


@LABEL_GENERATORS.register_module(force=True)
class OneSizeFirstClassTestGenerator(FirstClassTestGenerator):
    """A fallback that, like a CAM model, takes images of one size per batch."""

    def generate(self, data_batch):
        assert len({img.shape for img in data_batch['inputs']}) == 1
        return super().generate(data_batch)


def test_mixed_sizes_are_batched_by_orientation_and_labelled_at_their_size(
        gen, tiny_voc, tiny_models, tmp_path, monkeypatch):
    import mmcv
    root = str(tmp_path / 'voc')
    names = _subset(tiny_voc, root, 10)
    sizes = {n: (64, 64) for n in names}
    for i, size in ((1, (80, 72)), (4, (80, 72)), (7, (80, 72)), (2, (48, 64)), (5, (48, 64))):
        path = osp.join(root, 'JPEGImages', names[i] + '.jpg')
        mmcv.imwrite(mmcv.imresize(mmcv.imread(path), size), path)
        sizes[names[i]] = size
    batches = []
    generate = GroundedSAMLabelGenerator.generate
    monkeypatch.setattr(GroundedSAMLabelGenerator, 'generate', lambda self, b: (
        batches.append([osp.basename(ds.img_path)[:-4] for ds in b['data_samples']]),
        generate(self, b))[1])
    FirstClassTestGenerator.calls.clear()
    img_labels = json.load(open(osp.join(root, 'cls_labels.json')))
    for grouping in ('orientation', 'size'):
        batches.clear()
        out = str(tmp_path / grouping)
        cfg = _cfg(root, tiny_models, box_threshold=1.0, fallback='cam',  # no box passes
                   fallback_generator=dict(type='OneSizeFirstClassTestGenerator'),
                   batch_grouping=grouping)
        report = generate_pseudo_labels(cfg, out, batch_size=4, num_workers=0)
        assert report['written'] == len(names) and report['failed'] == 0
        assert report['generator'] == dict(fallback=len(names))  # counted in report.json
        for n in names:
            label = load_label_png(osp.join(out, n + '.png'))
            assert label.shape == sizes[n][::-1] and (label == min(img_labels[n])).all()
        shapes = [sorted({sizes[n] for n in b}) for b in batches]
        if grouping == 'orientation':  # full batches; landscape, then portrait
            assert [len(b) for b in batches] == [4, 4, 2]
            assert shapes == [[(64, 64)], [(64, 64), (80, 72)], [(48, 64)]]
        else:
            assert [len(b) for b in batches] == [4, 1, 3, 2]
            assert all(len(s) == 1 for s in shapes)
    # the fallback got one size per batch: the mixed batch was split by size
    assert FirstClassTestGenerator.calls == [4, 1, 3, 2, 4, 1, 3, 2]
    with pytest.raises(ValueError, match='batch_grouping'):
        _build(root, tiny_models, batch_grouping='aspect')
    # boxes that pass in a batch of three sizes: Grounding DINO pads the batch, each image's
    # boxes stay inside it, SAM decodes them and every label has its image's size
    monkeypatch.undo()
    mixed = _batches(root, batch_size=4, limit=4)[0]
    assert len({tuple(ds.ori_shape) for ds in mixed['data_samples']}) == 3
    passing = _pinned(gen, box_threshold=0.4, max_detections=3)
    labels = passing.generate(mixed)
    for label, det, ds in zip(labels, passing.last_detections, mixed['data_samples']):
        h, w = ds.ori_shape[:2]
        assert label.shape == (h, w) and len(det['boxes'])
        assert (det['boxes'][:, 2] <= w).all() and (det['boxes'][:, 3] <= h).all()
    assert any((label > 0).any() for label in labels)


def test_two_ranks_shard_the_images(tiny_voc, tiny_models, tmp_path):
    cfg_file = tmp_path / 'gsam_tiny.py'
    cfg_file.write_text(f'_base_ = [{SYN_CFG!r}]\nlabel_generator = dict(detector='
                        f'{TINY_DETECTOR!r}, sam_type="tiny", detector_scale=(64, 64), '
                        'fallback="background")\n')
    root = str(tmp_path / 'voc')
    names = _subset(tiny_voc, root, 8)
    out = str(tmp_path / 'labels')
    opts = {'pseudo_label_dataloader.dataset.data_root': root}
    opts.update({f'label_generator.{k}': v for k, v in tiny_models.items()})
    run_tool('-m', 'torch.distributed.run', '--nproc_per_node=2', '--master_port=29623',
             'tools/make_pseudo_labels.py', str(cfg_file), '--out', out, '--launcher', 'pytorch',
             '--num-workers', '0', '--batch-size', '4', *as_cli(opts))
    report = json.load(open(osp.join(out, 'report.json')))
    assert report['written'] == len(names) == 8 and report['failed'] == 0
    assert sorted(r['written'] for r in report['ranks']) == [4, 4]
    assert sorted(f[:-4] for f in os.listdir(out) if f.endswith('.png')) == sorted(names)


def test_sam_encoder_overlapping_detection_gives_the_same_labels(gen, batches):
    from mmwsss.utils.streams import SideStream
    batch = batches[0]
    serial = _pinned(gen, box_threshold=0.4, fallback='ignore', overlap_sam_encoder=False)
    overlap = _pinned(gen, box_threshold=0.4, fallback='ignore', overlap_sam_encoder=True)
    assert not _pinned(gen).overlap_sam_encoder  # off by default
    assert not _pinned(gen, overlap_sam_encoder='auto').overlap_sam_encoder  # CPU device: off

    def second_image_finds_nothing(detect):
        def run(images, captions, tokens):
            found = detect(images, captions, tokens)
            boxes, scores, phrases = found[1]
            found[1] = (boxes[:0], scores[:0], phrases[:0])
            return found
        return run

    for g in (serial, overlap):  # every probability is 0.5: all images but the second get boxes
        g.detect = second_image_finds_nothing(g.detect)
    ref, out = serial.generate(batch), overlap.generate(batch)
    assert (out[1] == 255).all() and not (out[0] == 255).all()
    for a, b in zip(ref, out):
        assert np.array_equal(a, b)
    encoded = []
    real_encode = overlap.sam.encode
    overlap.sam.encode = lambda imgs, **kw: encoded.append(len(imgs)) or real_encode(imgs, **kw)
    none = _pinned(gen, box_threshold=0.6, fallback='ignore', overlap_sam_encoder=True)
    none.sam.encode = overlap.sam.encode
    assert all((lab == 255).all() for lab in none.generate(batch))  # no box: fallback
    overlap.generate(batch)
    assert encoded == [len(batch['inputs'])] * 2  # one pass per batch, boxes or not
    # precomputed embeddings must belong to the images
    feats = overlap.sam.encode(batch['inputs'][:2], bgr=True)
    with pytest.raises(ValueError, match='2 image embeddings for 3 images'):
        overlap.sam.predict_boxes(batch['inputs'][:3], [torch.zeros(1, 4)] * 3, features=feats)
    side = SideStream('cpu')  # on a CPU device the side stream runs in place
    with side:
        x = torch.ones(2) * 2
    side.join(x)
    assert side.stream is None and x.tolist() == [2.0, 2.0]
    with pytest.raises(ValueError, match='overlap_sam_encoder'):
        _pinned(gen, overlap_sam_encoder='yes')


def test_paint_masks_equals_painting_one_mask_at_a_time():
    """The one-op painting shared by Grounded-SAM and SAMS gives what painting the masks one
    after another in priority order gives (last painted wins, ``fill`` elsewhere)."""
    gen = torch.Generator().manual_seed(0)
    for n in (1, 7, 40):
        masks = torch.rand(n, 9, 11, generator=gen) > 0.8
        labels = torch.randint(1, 21, (n,), generator=gen)
        order = torch.randperm(n, generator=gen)
        expected = torch.full((9, 11), 255, dtype=torch.long)
        for i in order.tolist():
            expected[masks[i]] = labels[i]
        assert torch.equal(paint_masks(masks, labels, order, fill=255), expected)
        assert torch.equal(paint_masks(masks, labels, order, fill=255, chunk=3), expected)
    scores = torch.tensor([0.2, 0.7, 0.7, 0.7])
    areas = torch.tensor([5, 9, 3, 3])
    # highest priority last: 0.7 beats 0.2; among 0.7 the smaller area; then the earlier mask
    assert mask_priority_order(scores, areas).tolist() == [0, 1, 3, 2]
