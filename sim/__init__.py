"""sim: what happens to a chatbot backend's locks and caches when real customers hit it."""

__version__ = "0.1.0"
