"""mmwsss: image-level weakly-supervised semantic segmentation on MMSegmentation.

Importing the package registers every mmwsss component in the ``mmwsss`` scope, so an mmseg
project can use them after ``custom_imports = dict(imports=['mmwsss'])``.
"""
import mmseg.visualization  # noqa: F401  (fills the parent registries we fall back to)
from mmseg.utils import register_all_modules

register_all_modules(init_default_scope=False)

from . import datasets, engine, evaluation, label_generators, models  # noqa: E402,F401
from .utils import allow_mmengine_checkpoints  # noqa: E402

__version__ = '0.1.0'

allow_mmengine_checkpoints()
