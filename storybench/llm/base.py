"""The LLM backend interface and its registry.

One small interface for every text model: chat messages in, text out; streaming as
an iterator of text chunks; structured output constrained by a JSON Schema and
returned as a validated pydantic object. Backends: ``llamacpp`` (embedded, the
default), ``ollama``, ``openai`` (any OpenAI-compatible server); third-party ones
through the ``storybench.llm_backends`` entry-point group.

Defaults follow the story design: temperature 0.7, top_p 0.9.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from storybench.config import env_settings
from storybench.exceptions import StructuredOutputError
from storybench.registry import Extra, Registry

__all__ = [
    "LLM_BACKENDS",
    "LLM_ENTRY_POINT_GROUP",
    "GenerationOptions",
    "LLMBackend",
    "Message",
    "get_llm_backend",
    "llm_backend_names",
    "register_llm_backend",
    "resolve_llm",
]

LLM_ENTRY_POINT_GROUP = "storybench.llm_backends"
T = TypeVar("T", bound=BaseModel)


class Message(BaseModel):
    """One chat message."""

    model_config = ConfigDict(frozen=True)

    role: Literal["system", "user", "assistant"]
    content: str


class GenerationOptions(BaseModel):
    """Sampling options of one request.

    Attributes:
        temperature: sampling temperature (0.7 by default).
        top_p: nucleus sampling mass (0.9 by default).
        max_tokens: most tokens to generate.
        seed: sampler seed (``None``: random).
        stop: strings that end generation.
        cache_slot: the prompt cache the request belongs to (``""``: the default one). A
            backend that keeps prompt caches itself (the embedded ``llamacpp``: one llama.cpp
            context per slot) keeps each slot's cached prompt from being evicted by requests
            of other slots, so a story's transcript survives a summary or an illustration
            prompt in between; servers ignore it.
    """

    model_config = ConfigDict(frozen=True)

    temperature: float = Field(0.7, ge=0, le=2)
    top_p: float = Field(0.9, gt=0, le=1)
    max_tokens: int = Field(512, ge=1, le=32768)
    seed: int | None = None
    stop: tuple[str, ...] = ()
    cache_slot: str = Field("", max_length=40)


class LLMBackend(ABC):
    """Base class of LLM backends. Subclasses write :meth:`_complete`, :meth:`_stream`
    and :meth:`_complete_json`; retries, fallback and validation live here and in
    the subclasses' transport code.
    """

    name: ClassVar[str] = ""

    def __init__(self, model: str | None = None, options: GenerationOptions | None = None) -> None:
        self.model = model
        self.options = options or GenerationOptions()

    def _opts(self, overrides: dict[str, Any]) -> GenerationOptions:
        return self.options.model_copy(update={k: v for k, v in overrides.items() if v is not None})

    def complete(self, messages: Sequence[Message], **options: Any) -> str:
        """The whole answer to ``messages``.

        Raises:
            BackendError: the server or model failed (transient or permanent).
        """
        return self._complete(list(messages), self._opts(options))

    def stream(self, messages: Sequence[Message], **options: Any) -> Iterator[str]:
        """The answer as text chunks, yielded as the model produces them."""
        return self._stream(list(messages), self._opts(options))

    def structured(
        self,
        messages: Sequence[Message],
        model: type[T],
        *,
        attempts: int = 2,
        schema: dict[str, Any] | None = None,
        **options: Any,
    ) -> T:
        """An answer constrained by ``model``'s JSON Schema, validated into ``model``.

        When validation fails the model is asked again with its own validation
        errors appended (bounded by ``attempts``), as instructor does.

        Args:
            messages: the conversation.
            model: the pydantic model of the answer; put ``max_length``/``max_items`` on
                its fields so a runaway string cannot stall a constrained request.
            attempts: total tries.
            schema: a JSON Schema to constrain with instead of ``model``'s own.

        Raises:
            StructuredOutputError: no attempt validated; keeps the last output.
        """
        schema = schema or model.model_json_schema()
        history = list(messages)
        last = ""
        for _attempt in range(1, attempts + 1):
            last = self._complete_json(history, schema, self._opts(options))
            try:
                return model.model_validate_json(last)
            except ValidationError as exc:
                errors = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}"
                    for e in exc.errors(include_url=False)
                )
                history = [
                    *messages,
                    Message(role="assistant", content=last),
                    Message(
                        role="user", content=f"That JSON is invalid: {errors}. Answer again with corrected JSON only."
                    ),
                ]
        raise StructuredOutputError(
            self.name, f"answer did not match {model.__name__}", last_output=last, attempts=attempts
        )

    def prefill(self, messages: Sequence[Message], **options: Any) -> bool:
        """Evaluate the prompt of ``messages`` now, ahead of a request that begins with it
        (its last message's content is the start of that request's last message), so the
        request waits only for what it adds. Only a backend whose prompt cache is its own
        and free to fill (the embedded ``llamacpp``) does it; the others do nothing.

        Returns:
            Whether anything was evaluated.

        Raises:
            BackendError: the model failed.
        """
        return False

    @abstractmethod
    def _complete(self, messages: list[Message], options: GenerationOptions) -> str: ...

    @abstractmethod
    def _stream(self, messages: list[Message], options: GenerationOptions) -> Iterator[str]: ...

    @abstractmethod
    def _complete_json(self, messages: list[Message], schema: dict[str, Any], options: GenerationOptions) -> str:
        """Raw JSON text of an answer constrained by ``schema``."""

    def close(self) -> None:  # noqa: B027  # optional hook: the default has nothing to release
        """Release connections (and, for embedded models, nothing: models stay loaded per process)."""


_BUILTIN: dict[str, str] = {
    "llamacpp": "storybench.llm.llamacpp:LlamaCppBackend",
    "ollama": "storybench.llm.ollama:OllamaBackend",
    "openai": "storybench.llm.openai:OpenAIBackend",
}
LLM_BACKENDS: Registry[LLMBackend] = Registry(
    "LLM",
    LLM_ENTRY_POINT_GROUP,
    _BUILTIN,
    {
        "llamacpp": Extra("llamacpp", (("llama_cpp", "llama-cpp-python"),)),
        "ollama": Extra("ollama", (("ollama", "ollama"),)),
        "openai": Extra("openai", (("openai", "openai"),)),
    },
)


def register_llm_backend(name: str, factory: Callable[..., LLMBackend] | str) -> None:
    """Register an LLM backend class (or ``"module:Class"``) under ``name``."""
    LLM_BACKENDS.register(name, factory)


def llm_backend_names() -> list[str]:
    """Names of every registered LLM backend, sorted."""
    return LLM_BACKENDS.names()


def resolve_llm(llm: LLMBackend | str | None) -> LLMBackend:
    """An LLM backend object from an object, a registered name, or ``None``
    (the ``STORYBENCH_LLM_BACKEND`` setting, ``llamacpp`` by default).

    Raises:
        UnknownBackendError, MissingDependencyError: from :func:`get_llm_backend`.
    """
    if isinstance(llm, LLMBackend):
        return llm
    return get_llm_backend(llm or env_settings().llm_backend)


def get_llm_backend(name: str, **options: Any) -> LLMBackend:
    """Create the LLM backend registered as ``name``.

    Raises:
        UnknownBackendError: no such backend; the message lists the known names.
        MissingDependencyError: its optional extra is not installed.
    """
    return LLM_BACKENDS.create(name, **options)
