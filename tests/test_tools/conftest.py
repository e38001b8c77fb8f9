from _tiny_reid import tiny_data_root, tiny_files  # noqa: F401
