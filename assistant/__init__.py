"""repo-assistant: a local code-repository assistant with sandboxed tools and a live tool trace."""

__version__ = "0.1.0"

__all__ = ["__version__"]
