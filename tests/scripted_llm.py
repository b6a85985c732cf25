"""A scripted fake LLM backend for tests (registered as ``"scripted-planner"``).

Each structured request pops the next scripted answer: a ``str`` is returned as
the raw JSON text, a ``dict``/``list`` is JSON-encoded, a callable gets
``(messages, schema)`` and returns either. When the script is empty the backend
answers with a minimal valid instance generated from the request's JSON Schema,
so a test only scripts the answers it cares about.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from typing import Any

from storybench.llm.base import GenerationOptions, LLMBackend, Message, register_llm_backend

Answer = str | dict | list | Callable[[list[Message], dict], Any]


def schema_instance(schema: dict[str, Any], rng: random.Random, root: dict[str, Any] | None = None) -> Any:
    """A valid instance of ``schema`` (objects, arrays, enums, strings, numbers, $ref, anyOf)."""
    root = root or schema
    if "$ref" in schema:
        name = schema["$ref"].split("/")[-1]
        return schema_instance(root["$defs"][name], rng, root)
    if "anyOf" in schema:
        return schema_instance(schema["anyOf"][0], rng, root)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return rng.choice(schema["enum"])
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        return {k: schema_instance(v, rng, root) for k, v in props.items()}
    if kind == "array":
        lo = schema.get("minItems", 0)
        hi = schema.get("maxItems", lo + 2)
        n = rng.randint(lo, max(lo, min(hi, lo + 2)))
        return [schema_instance(schema.get("items", {"type": "string"}), rng, root) for _ in range(n)]
    if kind == "string":
        hi = schema.get("maxLength", 30)
        lo = max(1, schema.get("minLength", 1))
        word = f"text{rng.randint(0, 999)} words here"
        return word[: max(lo, min(hi, len(word)))]
    if kind == "integer":
        return schema.get("minimum", 0)
    if kind == "number":
        return float(schema.get("minimum", 0))
    if kind == "boolean":
        return False
    return None


class ScriptedLLM(LLMBackend):
    """Answers from a script, then from the schema (see module doc).

    Attributes:
        calls: every request as ``(messages, schema, options)``.
    """

    name = "scripted-planner"

    def __init__(self, script: list[Answer] | None = None, seed: int = 0, **kw: Any) -> None:
        super().__init__(**kw)
        self.script = list(script or [])
        self.calls: list[tuple[list[Message], dict | None, GenerationOptions]] = []
        self.rng = random.Random(seed)

    def _next(self, messages: list[Message], schema: dict | None) -> str:
        if self.script:
            item = self.script.pop(0)
            if callable(item):
                item = item(messages, schema)
            return item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)
        if schema is None:
            return "plain text answer"
        return json.dumps(schema_instance(schema, self.rng))

    def _complete(self, messages: list[Message], options: GenerationOptions) -> str:
        self.calls.append((messages, None, options))
        return self._next(messages, None)

    def _stream(self, messages: list[Message], options: GenerationOptions) -> Iterator[str]:
        yield self._complete(messages, options)

    def _complete_json(self, messages: list[Message], schema: dict[str, Any], options: GenerationOptions) -> str:
        self.calls.append((messages, schema, options))
        return self._next(messages, schema)


register_llm_backend("scripted-planner", ScriptedLLM)
