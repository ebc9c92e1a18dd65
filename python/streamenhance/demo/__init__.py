"""The self-contained demo: a rendered broadcast-like clip, degraded, enhanced and measured."""
