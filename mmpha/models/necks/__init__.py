from .pha import PHANeck

__all__ = ['PHANeck']
