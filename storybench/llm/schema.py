"""JSON Schema helpers for structured LLM output.

Constrained decoding (a grammar built from the schema) is slower than free text,
and a string or array without a bound lets a small model loop until
``max_tokens``. Give every string field ``max_length`` and every list
``max_length`` (pydantic writes ``maxLength``/``maxItems``) and keep
``max_tokens`` of structured requests small; :func:`unbounded_paths` lists the
places that lack a bound so backends can warn.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["schema_instruction", "unbounded_paths"]


def schema_instruction(schema: dict[str, Any]) -> str:
    """A system instruction asking for JSON matching ``schema`` (compact JSON inside)."""
    return (
        "Answer with a single JSON object and nothing else (no prose, no code fence). "
        "It must match this JSON Schema: " + json.dumps(schema, separators=(",", ":"), ensure_ascii=False)
    )


def unbounded_paths(schema: dict[str, Any]) -> list[str]:
    """JSON paths of string fields without ``maxLength`` (and no ``enum``/``const``/
    ``format``/``pattern``) and arrays without ``maxItems``, following ``$ref`` into
    ``$defs`` once per definition.

    Example: ``{"properties": {"title": {"type": "string"}}}`` -> ``["$.title"]``.
    """
    defs = schema.get("$defs") or schema.get("definitions") or {}
    found: list[str] = []
    seen: set[str] = set()

    def walk(node: Any, path: str) -> None:
        if not isinstance(node, dict):
            return
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.rsplit("/", 1)[-1] in defs:
            name = ref.rsplit("/", 1)[-1]
            if name not in seen:
                seen.add(name)
                walk(defs[name], path)
            return
        kind = node.get("type")
        kinds = kind if isinstance(kind, list) else [kind]
        if "string" in kinds and not any(k in node for k in ("maxLength", "enum", "const", "format", "pattern")):
            found.append(path)
        if "array" in kinds:
            if "maxItems" not in node:
                found.append(path)
            walk(node.get("items"), f"{path}[]")
        for key, sub in (node.get("properties") or {}).items():
            walk(sub, f"{path}.{key}")
        for key in ("anyOf", "oneOf", "allOf"):
            for sub in node.get(key) or []:
                walk(sub, path)
        if isinstance(node.get("additionalProperties"), dict):
            walk(node["additionalProperties"], f"{path}.*")

    walk(schema, "$")
    return found
