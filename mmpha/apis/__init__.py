"""High-level APIs: model initialisation, feature extraction, search."""
__all__ = []
