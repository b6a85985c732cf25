"""LLM backends behind one small interface (see :mod:`storybench.llm.base`)."""

from storybench.llm.base import (
    LLM_ENTRY_POINT_GROUP,
    GenerationOptions,
    LLMBackend,
    Message,
    get_llm_backend,
    llm_backend_names,
    register_llm_backend,
)

__all__ = [
    "LLM_ENTRY_POINT_GROUP",
    "GenerationOptions",
    "LLMBackend",
    "Message",
    "get_llm_backend",
    "llm_backend_names",
    "register_llm_backend",
]
