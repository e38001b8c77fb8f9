"""Visualisation of ranked lists and frequency maps."""
__all__ = []
