from .grouped_constructor import GroupedOptimWrapperConstructor, merge_param_groups

__all__ = ['GroupedOptimWrapperConstructor', 'merge_param_groups']
