"""Data structures."""
__all__ = []
