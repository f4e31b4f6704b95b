"""Renderers: one module per format, all reading the same results."""
