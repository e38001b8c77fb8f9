from .nan_guard_hook import NaNGuardHook

__all__ = ['NaNGuardHook']
