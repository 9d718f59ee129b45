"""The model-server seam (``ModelBackend``) and its implementations: a leaf that knows no
settings (``services.build_backend`` makes one from them)."""

from .base import (
    ChatChunk,
    ChatRequest,
    ModelBackend,
    ModelInfo,
    Reachability,
    Timeouts,
    ToolCallRequest,
    default_model,
)
from .ollama import OllamaBackend
from .openai_compat import OpenAICompatBackend

__all__ = [
    "ChatChunk",
    "ChatRequest",
    "ModelBackend",
    "ModelInfo",
    "OllamaBackend",
    "OpenAICompatBackend",
    "Reachability",
    "Timeouts",
    "ToolCallRequest",
    "default_model",
]
