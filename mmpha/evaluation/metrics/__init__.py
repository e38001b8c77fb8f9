from .dump_results import DumpReIDResults, append_metrics_to_dump
__all__ = ['DumpReIDResults', 'append_metrics_to_dump']
