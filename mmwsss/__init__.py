"""mmwsss: image-level weakly-supervised semantic segmentation on MMSegmentation.

Importing the package registers every mmwsss component in the ``mmwsss`` scope, so an mmseg
project can use them after ``custom_imports = dict(imports=['mmwsss'])``.
"""
import warnings

# mmengine 0.10.7 finds installed packages (``mmseg::`` configs) with pkg_resources, which warns
# on import that it is deprecated; the stack pins setuptools < 81, where it still works
warnings.filterwarnings('ignore', message='pkg_resources is deprecated', category=UserWarning)

import mmseg.visualization  # noqa: E402,F401  (fills the parent registries we fall back to)
from mmseg.utils import register_all_modules  # noqa: E402

register_all_modules(init_default_scope=False)

from . import datasets, engine, evaluation, label_generators, models  # noqa: E402,F401
from .utils import allow_mmengine_checkpoints  # noqa: E402

__version__ = '0.1.0'

allow_mmengine_checkpoints()
