"""The model-server seam (``ModelBackend``) and its implementations."""

from assistant.settings import Settings

from .base import ChatChunk, ChatRequest, ModelBackend, ModelInfo, Timeouts, ToolCallRequest, default_model
from .ollama import OllamaBackend
from .openai_compat import OpenAICompatBackend


def build_backend(settings: Settings) -> ModelBackend:
    """The backend the settings ask for."""
    timeouts = Timeouts(
        connect=settings.connect_timeout,
        first_token=settings.first_token_timeout,
        between_chunks=settings.chunk_timeout,
        request=settings.request_timeout,
        answer=settings.answer_timeout,
    )
    if settings.backend == "openai":
        return OpenAICompatBackend(settings.base_url or "", settings.backend_api_key, timeouts)
    return OllamaBackend(settings.ollama_url, timeouts)


__all__ = [
    "ChatChunk",
    "ChatRequest",
    "ModelBackend",
    "ModelInfo",
    "OllamaBackend",
    "OpenAICompatBackend",
    "Timeouts",
    "ToolCallRequest",
    "build_backend",
    "default_model",
]
