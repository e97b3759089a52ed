"""mmwsss registries: children of MMSegmentation's, scope ``mmwsss``.

A config with ``default_scope='mmwsss'`` finds mmwsss classes first and falls back to mmseg
(and through it to mmengine); an mmseg project reaches ours as ``type='mmwsss.Name'`` after
``custom_imports=dict(imports=['mmwsss'])``.
"""
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import Registry
from mmseg.registry import DATA_SAMPLERS as MMSEG_DATA_SAMPLERS
from mmseg.registry import DATASETS as MMSEG_DATASETS
from mmseg.registry import EVALUATOR as MMSEG_EVALUATOR
from mmseg.registry import HOOKS as MMSEG_HOOKS
from mmseg.registry import INFERENCERS as MMSEG_INFERENCERS
from mmseg.registry import LOG_PROCESSORS as MMSEG_LOG_PROCESSORS
from mmseg.registry import LOOPS as MMSEG_LOOPS
from mmseg.registry import METRICS as MMSEG_METRICS
from mmseg.registry import MODELS as MMSEG_MODELS
from mmseg.registry import OPTIM_WRAPPERS as MMSEG_OPTIM_WRAPPERS
from mmseg.registry import OPTIMIZERS as MMSEG_OPTIMIZERS
from mmseg.registry import PARAM_SCHEDULERS as MMSEG_PARAM_SCHEDULERS
from mmseg.registry import RUNNER_CONSTRUCTORS as MMSEG_RUNNER_CONSTRUCTORS
from mmseg.registry import RUNNERS as MMSEG_RUNNERS
from mmseg.registry import TASK_UTILS as MMSEG_TASK_UTILS
from mmseg.registry import TRANSFORMS as MMSEG_TRANSFORMS
from mmseg.registry import VISBACKENDS as MMSEG_VISBACKENDS
from mmseg.registry import VISUALIZERS as MMSEG_VISUALIZERS
from mmseg.registry import WEIGHT_INITIALIZERS as MMSEG_WEIGHT_INITIALIZERS

MODELS = Registry('model', parent=MMSEG_MODELS, scope='mmwsss', locations=['mmwsss.models'])
DATASETS = Registry('dataset', parent=MMSEG_DATASETS, scope='mmwsss', locations=['mmwsss.datasets'])
TRANSFORMS = Registry(
    'transform', parent=MMSEG_TRANSFORMS, scope='mmwsss', locations=['mmwsss.datasets.transforms'])
DATA_SAMPLERS = Registry(
    'data sampler', parent=MMSEG_DATA_SAMPLERS, scope='mmwsss', locations=['mmwsss.datasets'])
METRICS = Registry('metric', parent=MMSEG_METRICS, scope='mmwsss', locations=['mmwsss.evaluation'])
EVALUATOR = Registry(
    'evaluator', parent=MMSEG_EVALUATOR, scope='mmwsss', locations=['mmwsss.evaluation'])
HOOKS = Registry('hook', parent=MMSEG_HOOKS, scope='mmwsss', locations=['mmwsss.engine'])
LOOPS = Registry('loop', parent=MMSEG_LOOPS, scope='mmwsss', locations=['mmwsss.engine'])
# A direct child of MMEngine's root: the Runner looks wrappers up there by 'mmwsss.<name>'.
MODEL_WRAPPERS = Registry(
    'model_wrapper', parent=MMENGINE_MODEL_WRAPPERS, scope='mmwsss', locations=['mmwsss.engine'])
OPTIMIZERS = Registry('optimizer', parent=MMSEG_OPTIMIZERS, scope='mmwsss')
OPTIM_WRAPPERS = Registry('optim_wrapper', parent=MMSEG_OPTIM_WRAPPERS, scope='mmwsss')
# Also a direct child of MMEngine's root: mmengine.optim.build_optim_wrapper looks there.
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor', parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
    scope='mmwsss', locations=['mmwsss.engine'])
PARAM_SCHEDULERS = Registry('parameter scheduler', parent=MMSEG_PARAM_SCHEDULERS, scope='mmwsss')
VISBACKENDS = Registry('vis_backend', parent=MMSEG_VISBACKENDS, scope='mmwsss')
VISUALIZERS = Registry('visualizer', parent=MMSEG_VISUALIZERS, scope='mmwsss')
# The rest of mmseg's registries, so that every lookup in the mmwsss scope finds a registry of
# that scope (MMEngine warns "Failed to search registry with scope" otherwise).
RUNNERS = Registry('runner', parent=MMSEG_RUNNERS, scope='mmwsss')
RUNNER_CONSTRUCTORS = Registry('runner constructor', parent=MMSEG_RUNNER_CONSTRUCTORS,
                               scope='mmwsss')
WEIGHT_INITIALIZERS = Registry('weight initializer', parent=MMSEG_WEIGHT_INITIALIZERS,
                               scope='mmwsss')
TASK_UTILS = Registry('task util', parent=MMSEG_TASK_UTILS, scope='mmwsss')
LOG_PROCESSORS = Registry('log_processor', parent=MMSEG_LOG_PROCESSORS, scope='mmwsss')
INFERENCERS = Registry('inferencer', parent=MMSEG_INFERENCERS, scope='mmwsss')

# Stage-1 generators that turn images + image-level labels into pixel labels (CAM, Grounded-SAM,
# CLIP+SAM). Not an OpenMMLab registry of mmseg's, so it has no parent.
LABEL_GENERATORS = Registry(
    'label generator', scope='mmwsss', locations=['mmwsss.label_generators'])
