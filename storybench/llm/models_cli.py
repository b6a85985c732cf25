"""``storybench models``: list the language models this machine can use.

Registered by :mod:`storybench.cli` through :func:`add_models_command`; the search
itself is :func:`storybench.llm.discovery.discover_models`.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any

from storybench.llm.discovery import discover

__all__ = ["add_models_command", "run_models_command"]


def add_models_command(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``models`` subcommand to an ``argparse`` subparsers object.

    Returns:
        The ``models`` subparser (its ``func`` returns the exit code).
    """
    p = subparsers.add_parser(
        "models",
        help="list the LLMs this machine can use (Ollama, OpenAI-compatible servers, GGUF files)",
        description=(
            "List models of a running Ollama server, of an OpenAI-compatible server "
            "(STORYBENCH_OPENAI_BASE_URL), GGUF files in Ollama's store, LM Studio's folders, the "
            "Hugging Face cache and STORYBENCH_MODELS_DIR, and the built-in tiny test model."
        ),
    )
    p.add_argument("--json", action="store_true", help="print JSON (a list of objects)")
    p.add_argument("--no-servers", action="store_true", help="do not ask servers; files only")
    p.add_argument("--timeout", type=float, default=0.5, help="seconds to wait for each server (default: 0.5)")
    p.set_defaults(func=run_models_command)
    return p


def run_models_command(args: argparse.Namespace) -> int:
    """Print the found models, one a line (or JSON); returns 0."""
    result = discover(timeout=args.timeout, servers=not args.no_servers)
    found = result.models
    if args.json:
        print(json.dumps([asdict(m) for m in found], indent=2, ensure_ascii=False))
        return 0
    print(f"{'MODEL':<40} {'BACKEND':<9} {'SIZE':>8}  SOURCE")
    for m in found:
        print(m.describe())
    for probe in result.servers:
        print(probe.describe())
    print("use one: STORYBENCH_LLM_BACKEND=<backend> and the model (a GGUF path for llamacpp) in the widget's Model")
    return 0
