"""Fixtures of the engine tests."""
from _tiny_reid import tiny_data_root  # noqa: F401
