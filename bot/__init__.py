"""hyosan-bot core: entry point, settings, store, error path and shared policies."""

__version__ = "0.1.0"
