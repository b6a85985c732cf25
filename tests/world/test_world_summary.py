"""The rolling summary: constrained JSON from the LLM, an extract when the answer is unusable."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import pytest

from storybench.exceptions import TransientBackendError
from storybench.llm.base import GenerationOptions, LLMBackend, Message
from storybench.world.summary import SUMMARY_MAX_CHARS, extract_summary, write_summary


class Answering(LLMBackend):
    name = "answering"

    def __init__(self, answer: str | Exception) -> None:
        super().__init__()
        self.answer = answer
        self.schemas: list[dict] = []

    def _complete_json(self, messages: list[Message], schema: dict, options: GenerationOptions) -> str:
        self.schemas.append(schema)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer

    def _complete(self, messages: list[Message], options: GenerationOptions) -> str:
        raise AssertionError("not used")

    def _stream(self, messages: list[Message], options: GenerationOptions) -> Iterator[str]:
        raise AssertionError("not used")


def test_the_summary_is_asked_as_bounded_json():
    llm = Answering('{"summary": "  Ола знайшла ключ.\\n Тарас мовчить. "}')
    summary = write_summary(llm, "Вони прийшли до млина.", "Ола знайшла ключ.", language="uk")
    assert summary.text == "Ола знайшла ключ. Тарас мовчить." and summary.written_by == "llm"
    assert llm.schemas[0]["properties"]["summary"]["maxLength"] == SUMMARY_MAX_CHARS


@pytest.mark.parametrize("answer", ['{"summary": ""}', "not json", TransientBackendError("x", "server down")])
def test_an_unusable_answer_falls_back_to_an_extract(answer):
    summary = write_summary(Answering(answer), "Before.", "First thing. Second thing. Third thing.")
    assert summary == type(summary)("Before. First thing. Second thing.", "extract")


def test_extract_keeps_the_newest_text_within_the_limit():
    text = extract_summary("old " * 200, "New fact here. More.", limit=100)
    assert len(text) <= 100 and text.endswith("New fact here. More.") and text.startswith("…")


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="needs storybench[llamacpp]")
def test_the_135m_model_writes_a_valid_short_summary():
    from storybench.llm.llamacpp import LlamaCppBackend

    llm = LlamaCppBackend()
    summary = write_summary(llm, None, "Ola and Taras enter the old mill. Under the blue stone they find a key.")
    assert summary.written_by == "llm"
    assert 0 < len(summary.text) <= SUMMARY_MAX_CHARS
