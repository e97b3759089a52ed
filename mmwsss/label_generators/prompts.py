"""Text prompts of Grounded-SAM: the phrases of a dataset's classes and the caption of an
image's present classes (the reference script weixuansun/wsss_sam, process_pascal.py)."""
from typing import Dict, List, Optional, Sequence, Tuple

# Prompt phrases readable by a text encoder, for class names that are not.
READABLE_NAMES = {'diningtable': 'dining table', 'pottedplant': 'potted plant',
                  'tvmonitor': 'tv monitor'}
# Extra phrases of the reference script (VOC class names only: on COCO, 'bowl' and 'tv' are
# classes of their own, so these are not applied to COCO's 'dining table' / 'tv').
EXTRA_PHRASES = {'horse': ['halter', 'saddle'],
                 'diningtable': ['bowl', 'plate', 'food', 'fruit', 'glass', 'dishes'],
                 'tvmonitor': ['tv', 'monitor']}
PHRASE_SEP = ' . '

def default_phrases(name: str) -> List[str]:
    """The reference script's phrases for a class name: its readable name plus extras."""
    base = READABLE_NAMES.get(name, name.replace('_', ' '))
    return [base] + [p for p in EXTRA_PHRASES.get(name, []) if p != base]


def build_class_phrases(classes: Sequence[str], prompts: Optional[Dict[str, object]] = None,
                        default_prompts: bool = True) -> Dict[int, List[str]]:
    """Phrases of every foreground class, by class index (1-based, as in the labels).

    Args:
        classes: the dataset's class names, background first.
        prompts: ``{class name: phrase or [phrases]}``; replaces the phrases of those classes.
            A name that is not a foreground class is an error.
        default_prompts: other classes get ``default_phrases`` (else their readable name only).
    """
    classes = list(classes)
    index = {c: i for i, c in enumerate(classes) if i > 0}
    prompts = dict(prompts or {})
    unknown = [k for k in prompts if k not in index]
    if unknown:
        raise ValueError(f'prompts name classes {unknown} that are not foreground classes of '
                         f'the dataset ({classes[1:]})')
    out = {}
    for i, name in enumerate(classes):
        if i == 0:
            continue
        if name in prompts:
            phrases = prompts[name]
            phrases = [phrases] if isinstance(phrases, str) else list(phrases)
        elif default_prompts:
            phrases = default_phrases(name)
        else:
            phrases = [READABLE_NAMES.get(name, name.replace('_', ' '))]
        clean = []
        for p in phrases:
            p = ' '.join(str(p).split())
            if not p or '.' in p:
                raise ValueError(f'prompt phrase {p!r} of class {name!r}: phrases must be '
                                 "non-empty and must not contain '.', the phrase separator")
            if p not in clean:
                clean.append(p)
        if not clean:
            raise ValueError(f'class {name!r} has no prompt phrase')
        out[i] = clean
    return out


def build_caption(present: Sequence[int], class_phrases: Dict[int, List[str]]
                  ) -> Tuple[str, List[Tuple[int, int]], List[int]]:
    """Text prompt of an image: the phrases of its present classes joined by ``' . '``.

    Returns:
        caption, the (start, end) character span of every phrase, the class of every phrase.
    """
    caption, spans, phrase_classes = '', [], []
    for c in sorted(set(int(c) for c in present)):
        for p in class_phrases[c]:
            if caption:
                caption += PHRASE_SEP
            spans.append((len(caption), len(caption) + len(p)))
            caption += p
            phrase_classes.append(c)
    return (caption + ' .' if caption else caption), spans, phrase_classes
