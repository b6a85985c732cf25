"""Against real servers, only when asked: ``STORYBENCH_LIVE_OLLAMA=llama3.2`` (model name;
server from ``OLLAMA_HOST``) or ``STORYBENCH_LIVE_OPENAI=<model>`` (server and key from
``STORYBENCH_OPENAI_BASE_URL``/``OPENAI_BASE_URL`` and ``OPENAI_API_KEY``)."""

from __future__ import annotations

import os

import pytest
from pydantic import BaseModel, Field

from storybench.llm import Message, get_llm_backend

pytestmark = pytest.mark.live

ASK = [Message(role="user", content="Name a comic book hero and their power, briefly.")]


class Hero(BaseModel):
    name: str = Field(max_length=40)
    power: str = Field(max_length=80)


def _backends():
    found = []
    if os.environ.get("STORYBENCH_LIVE_OLLAMA"):
        found.append(("ollama", os.environ["STORYBENCH_LIVE_OLLAMA"]))
    if os.environ.get("STORYBENCH_LIVE_OPENAI"):
        found.append(("openai", os.environ["STORYBENCH_LIVE_OPENAI"]))
    return found or [
        pytest.param(None, None, marks=pytest.mark.skip(reason="set STORYBENCH_LIVE_OLLAMA or STORYBENCH_LIVE_OPENAI"))
    ]


@pytest.mark.parametrize("name, model", _backends())
def test_live_complete_stream_structured(name, model):
    llm = get_llm_backend(name, model=model)
    if name == "ollama":
        llm.check()
    assert llm.complete(ASK, max_tokens=32).strip()
    assert len(list(llm.stream(ASK, max_tokens=32))) >= 2
    assert isinstance(llm.structured(ASK, Hero, max_tokens=120), Hero)
    llm.close()
