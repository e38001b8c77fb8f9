"""mmpha's registries.

Every registry is a child of mmpretrain's (and through it of MMEngine's), so a
config in the ``mmpha`` scope finds mmpha's modules first and falls back to
mmpretrain's and MMEngine's (``VisionTransformer``, ``CrossEntropyLoss``,
``LoadImageFromFile``, hooks, optimizers, ...) without a scope prefix.
"""
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmengine.registry import INFERENCERS as MMENGINE_INFERENCERS
from mmengine.registry import STRATEGIES as MMENGINE_STRATEGIES
from mmengine.registry import Registry
from mmpretrain.registry import BATCH_AUGMENTS as MMPRETRAIN_BATCH_AUGMENTS
from mmpretrain.registry import DATA_SAMPLERS as MMPRETRAIN_DATA_SAMPLERS
from mmpretrain.registry import DATASETS as MMPRETRAIN_DATASETS
from mmpretrain.registry import EVALUATORS as MMPRETRAIN_EVALUATORS
from mmpretrain.registry import HOOKS as MMPRETRAIN_HOOKS
from mmpretrain.registry import LOG_PROCESSORS as MMPRETRAIN_LOG_PROCESSORS
from mmpretrain.registry import LOOPS as MMPRETRAIN_LOOPS
from mmpretrain.registry import METRICS as MMPRETRAIN_METRICS
from mmpretrain.registry import MODEL_WRAPPERS as MMPRETRAIN_MODEL_WRAPPERS
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS
from mmpretrain.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMPRETRAIN_OPTIM_WRAPPER_CONSTRUCTORS
from mmpretrain.registry import OPTIM_WRAPPERS as MMPRETRAIN_OPTIM_WRAPPERS
from mmpretrain.registry import OPTIMIZERS as MMPRETRAIN_OPTIMIZERS
from mmpretrain.registry import PARAM_SCHEDULERS as MMPRETRAIN_PARAM_SCHEDULERS
from mmpretrain.registry import \
    RUNNER_CONSTRUCTORS as MMPRETRAIN_RUNNER_CONSTRUCTORS
from mmpretrain.registry import RUNNERS as MMPRETRAIN_RUNNERS
from mmpretrain.registry import TASK_UTILS as MMPRETRAIN_TASK_UTILS
from mmpretrain.registry import TOKENIZER as MMPRETRAIN_TOKENIZER
from mmpretrain.registry import TRANSFORMS as MMPRETRAIN_TRANSFORMS
from mmpretrain.registry import VISBACKENDS as MMPRETRAIN_VISBACKENDS
from mmpretrain.registry import VISUALIZERS as MMPRETRAIN_VISUALIZERS
from mmpretrain.registry import \
    WEIGHT_INITIALIZERS as MMPRETRAIN_WEIGHT_INITIALIZERS

__all__ = [
    'RUNNERS', 'RUNNER_CONSTRUCTORS', 'LOOPS', 'HOOKS', 'LOG_PROCESSORS',
    'OPTIMIZERS', 'OPTIM_WRAPPERS', 'OPTIM_WRAPPER_CONSTRUCTORS',
    'PARAM_SCHEDULERS', 'DATASETS', 'DATA_SAMPLERS', 'TRANSFORMS', 'MODELS',
    'MODEL_WRAPPERS', 'WEIGHT_INITIALIZERS', 'TASK_UTILS', 'FUNCTIONS',
    'METRICS', 'EVALUATORS', 'EVALUATOR', 'VISUALIZERS', 'VISBACKENDS',
    'INFERENCERS', 'STRATEGIES', 'BATCH_AUGMENTS', 'TOKENIZER'
]

# Runners, loops and hooks.
RUNNERS = Registry(
    'runner', parent=MMPRETRAIN_RUNNERS, locations=['mmpha.engine'])
RUNNER_CONSTRUCTORS = Registry(
    'runner constructor',
    parent=MMPRETRAIN_RUNNER_CONSTRUCTORS,
    locations=['mmpha.engine'])
LOOPS = Registry('loop', parent=MMPRETRAIN_LOOPS, locations=['mmpha.engine'])
HOOKS = Registry('hook', parent=MMPRETRAIN_HOOKS, locations=['mmpha.engine'])
STRATEGIES = Registry(
    'strategy', parent=MMENGINE_STRATEGIES, locations=['mmpha.engine'])
LOG_PROCESSORS = Registry(
    'log processor',
    parent=MMPRETRAIN_LOG_PROCESSORS,
    locations=['mmpha.engine'])

# Optimisation.
OPTIMIZERS = Registry(
    'optimizer', parent=MMPRETRAIN_OPTIMIZERS, locations=['mmpha.engine'])
OPTIM_WRAPPERS = Registry(
    'optim_wrapper',
    parent=MMPRETRAIN_OPTIM_WRAPPERS,
    locations=['mmpha.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor',
    parent=MMPRETRAIN_OPTIM_WRAPPER_CONSTRUCTORS,
    locations=['mmpha.engine'])
PARAM_SCHEDULERS = Registry(
    'parameter scheduler',
    parent=MMPRETRAIN_PARAM_SCHEDULERS,
    locations=['mmpha.engine'])

# Data.
DATASETS = Registry(
    'dataset', parent=MMPRETRAIN_DATASETS, locations=['mmpha.datasets'])
DATA_SAMPLERS = Registry(
    'data sampler',
    parent=MMPRETRAIN_DATA_SAMPLERS,
    locations=['mmpha.datasets'])
TRANSFORMS = Registry(
    'transform', parent=MMPRETRAIN_TRANSFORMS, locations=['mmpha.datasets'])

# Models.
MODELS = Registry(
    'model', parent=MMPRETRAIN_MODELS, locations=['mmpha.models'])
MODEL_WRAPPERS = Registry(
    'model_wrapper',
    parent=MMPRETRAIN_MODEL_WRAPPERS,
    locations=['mmpha.models'])
WEIGHT_INITIALIZERS = Registry(
    'weight initializer',
    parent=MMPRETRAIN_WEIGHT_INITIALIZERS,
    locations=['mmpha.models'])
TASK_UTILS = Registry(
    'task util', parent=MMPRETRAIN_TASK_UTILS, locations=['mmpha.models'])
BATCH_AUGMENTS = Registry(
    'batch augment',
    parent=MMPRETRAIN_BATCH_AUGMENTS,
    locations=['mmpha.models'])
TOKENIZER = Registry(
    'tokenizer', parent=MMPRETRAIN_TOKENIZER, locations=['mmpha.models'])
FUNCTIONS = Registry(
    'function',
    parent=MMENGINE_FUNCTIONS,
    locations=['mmpha.models', 'mmpha.datasets'])

# Evaluation.
METRICS = Registry(
    'metric', parent=MMPRETRAIN_METRICS, locations=['mmpha.evaluation'])
EVALUATORS = Registry(
    'evaluator', parent=MMPRETRAIN_EVALUATORS, locations=['mmpha.evaluation'])
# MMEngine's name for the same registry.
EVALUATOR = EVALUATORS

# Visualisation and inference.
VISUALIZERS = Registry(
    'visualizer',
    parent=MMPRETRAIN_VISUALIZERS,
    locations=['mmpha.visualization'])
VISBACKENDS = Registry(
    'vis_backend',
    parent=MMPRETRAIN_VISBACKENDS,
    locations=['mmpha.visualization'])
INFERENCERS = Registry(
    'inferencer', parent=MMENGINE_INFERENCERS, locations=['mmpha.apis'])
