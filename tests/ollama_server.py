"""A small stand-in for an Ollama server, for tests (stdlib only, 127.0.0.1, one thread).

It answers the parts of Ollama's API (docs/api.md of ollama/ollama) that
storybench uses, in the documented shapes:

* ``POST /api/chat``: streamed NDJSON (``{"model", "created_at", "message":
  {"role": "assistant", "content"}, "done": false}`` per chunk, then
  ``{"done": true, "done_reason": "stop", "total_duration", "eval_count", ...}``),
  or one JSON object with ``stream: false``; ``format`` with a JSON Schema gives a
  JSON answer built from the schema; ``think`` as Ollama handles it: a model in
  ``thinking_models`` reasons first unless ``think`` is ``false`` (the reasoning in
  ``message.thinking``, streamed before the content), any other model answers
  ``think: true`` (or a level) with ``400 {"error": "\"x\" does not support thinking"}``
  and ignores ``think: false``; no messages loads the model, and with
  ``keep_alive: 0`` unloads it (``done_reason: "unload"``); an unknown model is
  ``404 {"error": "model 'x' not found"}``.
* ``GET /api/tags`` (installed models) and ``GET /api/ps`` (loaded models).

The reply text is ``"echo: "`` + the last user message, streamed word by word
with ``chunk_delay`` seconds between chunks. ``fail_next`` answers that many chat
requests with ``500 {"error": ...}`` first (to exercise retries). Every request
body is kept in ``requests``.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeOllama", "example_from_schema"]


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def example_from_schema(schema: dict[str, Any], root: dict[str, Any] | None = None) -> Any:
    """A value matching ``schema`` (objects, arrays, strings within maxLength,
    numbers, booleans, enums, ``$ref`` into ``$defs``)."""
    root = root or schema
    if "$ref" in schema:
        return example_from_schema(root["$defs"][schema["$ref"].rsplit("/", 1)[-1]], root)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return example_from_schema(schema[key][0], root)
    kind = schema.get("type", "object")
    if kind == "object":
        props = schema.get("properties", {})
        return {name: example_from_schema(sub, root) for name, sub in props.items()}
    if kind == "array":
        count = max(1, schema.get("minItems", 1))
        return [example_from_schema(schema.get("items", {}), root) for _ in range(count)]
    if kind == "string":
        return "Mira"[: schema.get("maxLength", 4)].ljust(schema.get("minLength", 0), "a")
    if kind == "integer":
        return max(3, schema.get("minimum", 3))
    if kind == "number":
        return 1.5
    if kind == "boolean":
        return True
    return None


class FakeOllama:
    """The server: ``with FakeOllama() as server: server.url``.

    Args:
        models: installed model names.
        chunk_delay: seconds between streamed chunks.
        thinking_models: installed models with Ollama's "thinking" capability (qwen3, deepseek-r1, ...).
    """

    def __init__(
        self,
        models: tuple[str, ...] = ("llama3.2:latest", "tinyllama:latest"),
        chunk_delay: float = 0.02,
        thinking_models: tuple[str, ...] = (),
    ) -> None:
        self.models = list(models) + [m for m in thinking_models if m not in models]
        self.thinking_models = set(thinking_models)
        self.loaded: set[str] = set()
        self.chunk_delay = chunk_delay
        self.fail_next = 0
        self.requests: list[dict[str, Any]] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeOllama:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def _find(self, name: str) -> str | None:
        for model in self.models:
            if name == model or (":" not in name and model == f"{name}:latest"):
                return model
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _json(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _chunk(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def do_GET(self) -> None:
                if self.path == "/api/tags":
                    details = {
                        "format": "gguf",
                        "family": "llama",
                        "families": None,
                        "parameter_size": "3B",
                        "quantization_level": "Q4_K_M",
                    }
                    self._json(
                        200,
                        {
                            "models": [
                                {
                                    "name": m,
                                    "model": m,
                                    "modified_at": _now(),
                                    "size": 2019393189,
                                    "digest": "a80c4f17acd5",
                                    "details": details,
                                }
                                for m in server.models
                            ]
                        },
                    )
                elif self.path == "/api/ps":
                    self._json(
                        200,
                        {
                            "models": [
                                {
                                    "name": m,
                                    "model": m,
                                    "size": 5137025024,
                                    "digest": "a80c4f17acd5",
                                    "expires_at": _now(),
                                    "size_vram": 5137025024,
                                }
                                for m in sorted(server.loaded)
                            ]
                        },
                    )
                else:
                    self._json(404, {"error": "404 page not found"})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
                server.requests.append({"path": self.path, **body})
                if self.path != "/api/chat":
                    self._json(404, {"error": "404 page not found"})
                    return
                name = body.get("model", "")
                model = server._find(name)
                if model is None:
                    self._json(404, {"error": f"model '{name}' not found"})
                    return
                messages = body.get("messages") or []
                if not messages:
                    if body.get("keep_alive") in (0, "0", "0s"):
                        server.loaded.discard(model)
                        reason = "unload"
                    else:
                        server.loaded.add(model)
                        reason = "load"
                    self._json(
                        200,
                        {
                            "model": name,
                            "created_at": _now(),
                            "message": {"role": "assistant", "content": ""},
                            "done_reason": reason,
                            "done": True,
                        },
                    )
                    return
                think = body.get("think")
                if think not in (None, False) and model not in server.thinking_models:
                    self._json(400, {"error": f'"{name}" does not support thinking'})
                    return
                thinking = "The reader wants a detective story." if model in server.thinking_models else ""
                if think is False:
                    thinking = ""
                if server.fail_next > 0:
                    server.fail_next -= 1
                    self._json(500, {"error": "llama runner process has terminated: exit status 2"})
                    return
                server.loaded.add(model)
                fmt = body.get("format")
                if isinstance(fmt, dict):
                    text = json.dumps(example_from_schema(fmt))
                elif fmt == "json":
                    text = "{}"
                else:
                    last_user = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
                    text = f"echo: {last_user}"
                words = text.split(" ")
                limit = (body.get("options") or {}).get("num_predict")
                if isinstance(limit, int) and limit > 0 and not isinstance(fmt, dict):
                    words = words[:limit]
                stats = {
                    "done_reason": "stop",
                    "total_duration": 4883583458,
                    "load_duration": 1334875,
                    "prompt_eval_count": 26,
                    "prompt_eval_duration": 342546000,
                    "eval_count": len(words),
                    "eval_duration": 4535599000,
                }
                if body.get("stream", True) is False:
                    self._json(
                        200,
                        {
                            "model": name,
                            "created_at": _now(),
                            "message": {
                                "role": "assistant",
                                "content": " ".join(words),
                                **({"thinking": thinking} if thinking else {}),
                            },
                            "done": True,
                            **stats,
                        },
                    )
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                if thinking:
                    line = {
                        "model": name,
                        "created_at": _now(),
                        "message": {"role": "assistant", "content": "", "thinking": thinking},
                        "done": False,
                    }
                    self._chunk(json.dumps(line).encode() + b"\n")
                for index, word in enumerate(words):
                    piece = word if index == 0 else " " + word
                    line = {
                        "model": name,
                        "created_at": _now(),
                        "message": {"role": "assistant", "content": piece},
                        "done": False,
                    }
                    self._chunk(json.dumps(line).encode() + b"\n")
                    time.sleep(server.chunk_delay)
                self._chunk(
                    json.dumps(
                        {
                            "model": name,
                            "created_at": _now(),
                            "message": {"role": "assistant", "content": ""},
                            "done": True,
                            **stats,
                        }
                    ).encode()
                    + b"\n"
                )
                self._chunk(b"")

        return Handler
