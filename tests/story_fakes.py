"""Scripted fakes for the story tests: an LLM that answers like small chat models do
(Ukrainian segments with choices in varied shapes, a first illustration answer in
Cyrillic, streamed in small chunks) and a tiny Pillow image backend."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from typing import Any

from PIL import Image

from storybench.exceptions import PermanentBackendError
from storybench.llm.base import GenerationOptions, LLMBackend, Message, register_llm_backend
from storybench.render.base import ImageBackend, register_image_backend
from storybench.render.spec import RenderResult, RenderSpec

SEGMENTS_UK = [
    # numbered with a question heading and dialogue in «»
    "Туман огорнув старий маяк. Ти піднімаєшся гвинтовими сходами, а десь угорі хтось тихо наспівує. "
    "«Хто тут?» — шепочеш ти.\n\nНа останньому прольоті лежить мокрий ліхтар і лист із печаткою.\n\n"
    "Що ти зробиш?\n1. Відкрити лист\n2. Піднятися вище\n3. Повернутися до човна",
    # bold markers, five choices (the fifth must go)
    'Лист пахне сіллю й воском. У ньому лише одне речення: "Світло має горіти до світанку". '
    "Внизу гримить хвиля, і маяк ледь помітно здригається.\n\n"
    "**1.** Запалити лампу\n**2.** Сховати лист у кишеню\n**3.** Спуститися до моря\n"
    "**4.** Покликати доглядача\n**5.** Заснути біля вікна",
    # "Варіант N:" lines, a duplicate
    "Лампа спалахує жовтим світлом, і в темряві ти бачиш силует човна без весел. "
    "На палубі стоїть жінка в сірому плащі й махає тобі рукою.\n\n"
    "Варіант 1: Помахати у відповідь\nВаріант 2: Подати сигнал ліхтарем\nВаріант 2: Подати сигнал ліхтарем\n"
    "Варіант 3: Вимкнути світло",
    # no choices at all: the engine must ask again (structured)
    "Жінка піднімається на скелі, мокра й мовчазна. Вона простягає тобі ключ, вкритий іржею, "
    "і показує на замкнені двері під сходами. Вітер стихає, ніби маяк затамував подих.",
    # choices inline on one line
    "За дверима — вузький коридор і запах гасу. Під ногами рипить підлога. "
    "Що далі? 1) Іти коридором 2) Запалити сірник 3) Покликати жінку",
]

TITLE_JSON = '{"title": "Маяк, що чекає"}'
CHOICES_JSON = '{"choices": ["Взяти ключ", "Відмовитися від ключа", "Запитати про двері"]}'

ILLUSTRATIONS_EN = [
    'Description: "A lone keeper climbs the spiral stairs of a foggy lighthouse at night, holding a wet lantern"',
    "An old letter with a wax seal on a stone windowsill, stormy sea below, lamp light",
    "A small boat without oars on dark water, a woman in a grey cloak waving, lighthouse beam",
    "Prompt: A wet woman offers a rusty key beside a locked door under lighthouse stairs",
    "A narrow corridor smelling of kerosene, creaking floorboards, a match about to be struck",
]
ILLUSTRATION_CYRILLIC = "Темний маяк у тумані, самотній доглядач"


class ScriptedLLM(LLMBackend):
    """An LLM backend that answers from scripts, recording every request.

    Segment requests get :data:`SEGMENTS_UK` in turn (cycling); illustration requests
    get a Cyrillic answer first, then English ones, alternating; structured choice
    requests get :data:`CHOICES_JSON`. Text streams in ``chunk``-character pieces.
    """

    name = "scripted"

    def __init__(
        self,
        model: str | None = "scripted-1",
        options: GenerationOptions | None = None,
        *,
        segments: list[str] | None = None,
        illustrations: list[str] | None = None,
        choices_json: str = CHOICES_JSON,
        chunk: int = 7,
        cyrillic_first: bool = True,
        title_json: str = TITLE_JSON,
    ) -> None:
        super().__init__(model, options)
        self.title_json = title_json
        self.segments = list(segments or SEGMENTS_UK)
        self.illustrations = list(illustrations or ILLUSTRATIONS_EN)
        self.choices_json = choices_json
        self.chunk = chunk
        self.cyrillic_first = cyrillic_first
        self.calls: list[tuple[str, list[Message], GenerationOptions]] = []
        self._n = {"segment": 0, "illustration": 0, "choices": 0, "title": 0}
        self._lock = threading.Lock()
        self.concurrent = 0
        self.max_concurrent = 0

    @staticmethod
    def kind(messages: list[Message]) -> str:
        system = messages[0].content
        if "image descriptions" in system:
            return "illustration"
        if "suggest what the hero" in system:
            return "choices"
        if "narrator of an interactive story" in system:
            return "segment"
        if "You name stories" in system:
            return "title"
        return "other"

    def _answer(self, messages: list[Message], options: GenerationOptions) -> str:
        kind = self.kind(messages)
        with self._lock:
            self.calls.append((kind, messages, options))
            n = self._n.get(kind, 0)
            self._n[kind] = n + 1
        if kind == "segment":
            return self.segments[n % len(self.segments)]
        if kind == "illustration":
            if self.cyrillic_first and n % 2 == 0:
                return ILLUSTRATION_CYRILLIC
            idx = n // 2 if self.cyrillic_first else n
            return self.illustrations[idx % len(self.illustrations)]
        if kind == "choices":
            return self.choices_json
        if kind == "title":
            return self.title_json
        return "ok"

    def _complete(self, messages: list[Message], options: GenerationOptions) -> str:
        return self._answer(messages, options)

    def _stream(self, messages: list[Message], options: GenerationOptions) -> Iterator[str]:
        text = self._answer(messages, options)
        with self._lock:
            self.concurrent += 1
            self.max_concurrent = max(self.max_concurrent, self.concurrent)
        try:
            for i in range(0, len(text), self.chunk):
                yield text[i : i + self.chunk]
        finally:
            with self._lock:
                self.concurrent -= 1

    def _complete_json(self, messages: list[Message], schema: dict[str, Any], options: GenerationOptions) -> str:
        return self._answer(messages, options)

    def count(self, kind: str) -> int:
        return sum(1 for k, _, _ in self.calls if k == kind)


class FakeImageBackend(ImageBackend):
    """Draws a flat image of the requested size; fails the first ``fail_first`` renders."""

    name = "fakeimg"
    version = "1"

    def __init__(self, fail_first: int = 0, message: str = "fake render failure") -> None:
        self.fail_first = fail_first
        self.message = message
        self.specs: list[RenderSpec] = []
        self._lock = threading.Lock()

    def render(self, spec: RenderSpec) -> RenderResult:
        with self._lock:
            self.specs.append(spec)
            if self.fail_first > 0:
                self.fail_first -= 1
                raise PermanentBackendError(self.name, self.message)
        img = Image.new("RGB", (spec.width, spec.height), (spec.seed % 256, 40, 90))
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        return RenderResult(image=buf.getvalue(), width=spec.width, height=spec.height)


register_llm_backend("scripted", ScriptedLLM)
register_image_backend("fakeimg", FakeImageBackend)


def parse_twee(source: str) -> dict[str, dict[str, Any]]:
    """A minimal Twee 3 reader: ``{name: {"tags": [...], "meta": {...}, "text": str, "links": [(text, target)]}}``."""
    import re

    passages: dict[str, dict[str, Any]] = {}
    header = re.compile(r"^:: (?P<name>(?:\\.|[^\\\[{])+?)\s*(?:\[(?P<tags>[^\]]*)\])?\s*(?P<meta>\{.*\})?\s*$")
    current: str | None = None
    for line in source.split("\n"):
        m = header.match(line) if line.startswith(":: ") else None
        if m:
            current = re.sub(r"\\(.)", r"\1", m.group("name").strip())
            passages[current] = {
                "tags": (m.group("tags") or "").split(),
                "meta": json.loads(m.group("meta")) if m.group("meta") else {},
                "text": "",
            }
            continue
        if current is not None:
            passages[current]["text"] += line + "\n"
    for p in passages.values():
        p["text"] = p["text"].strip()
        p["links"] = [tuple(x.split("->", 1)) for x in re.findall(r"\[\[(.+?)\]\]", p["text"])]
    return passages
