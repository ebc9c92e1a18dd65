"""Benchmarks run as commands (never as timed tests): ``speed`` is ``streamenhance bench``."""
