"""The text ComfyUI's frontend sends for a ``dynamicPrompts`` text widget (``CLIPTextEncode``'s
``text``...): its ``Comfy.DynamicPrompts`` extension (``processDynamicPrompt``) strips ``//`` and
``/* */`` comments and replaces each ``{a|b|c}`` block (nested blocks allowed, ``\\{``, ``\\|`` and
``\\}`` escaped) by one of its options.

The frontend picks an option at random on every queue; :func:`process_dynamic_prompt` picks with a
random generator seeded by the text, so a converted workflow is the same each time it is converted.
"""

from __future__ import annotations

import random
import re
import zlib

__all__ = ["process_dynamic_prompt"]

_COMMENTS = re.compile(r"/\*[\s\S]*?\*/|//.*")
_ESCAPED = re.compile(r"\\([{}|])")


class _Parser:
    def __init__(self, text: str, rng: random.Random) -> None:
        self.text, self.i, self.rng = text, 0, rng

    def escape(self) -> str:
        char = self.text[self.i] if self.i < len(self.text) else ""
        self.i += 1
        return "\\" + char

    def choice_block(self) -> str:
        options, choice, depth = [], "", 0
        while self.i < len(self.text):
            char = self.text[self.i]
            self.i += 1
            if char == "\\":
                choice += self.escape()
                continue
            if char == "}" and not depth:
                break
            if char == "|" and not depth:
                options.append(choice)
                choice = ""
                continue
            depth += {"{": 1, "}": -1}.get(char, 0)
            choice += char
        options.append(choice)
        return _expand(self.rng.choice(options), self.rng)

    def run(self) -> str:
        out = ""
        while self.i < len(self.text):
            char = self.text[self.i]
            self.i += 1
            if char == "\\":
                out += self.escape()
            elif char == "{":
                out += self.choice_block()
            else:
                out += char
        return out


def _expand(text: str, rng: random.Random) -> str:
    return _Parser(_COMMENTS.sub("", text), rng).run()


def process_dynamic_prompt(text: str) -> str:
    """``text`` as the frontend queues it: comments stripped, ``{a|b}`` choices made.

    Args:
        text: a dynamic-prompts text widget's value.

    Returns:
        The text without comments, each choice block replaced by one option (chosen by a
        generator seeded from ``text``), escapes of ``{``, ``|`` and ``}`` undone.
    """
    if "{" not in text and "/" not in text and "\\" not in text:
        return text
    rng = random.Random(zlib.crc32(text.encode("utf-8")))
    return _ESCAPED.sub(r"\1", _expand(text, rng))
