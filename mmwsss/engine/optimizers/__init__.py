from .amp_optim_wrapper import AmpOptimWrapper
from .grouped_constructor import GroupedOptimWrapperConstructor, merge_param_groups

__all__ = ['AmpOptimWrapper', 'GroupedOptimWrapperConstructor', 'merge_param_groups']
