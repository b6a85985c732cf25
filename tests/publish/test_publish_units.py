"""Pieces of storybench.publish without a platform: target parsing, retry policy, pages, captions,
planning, avatars, ledger, registry."""

from __future__ import annotations

import argparse
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

grpc = pytest.importorskip("grpc")
from PIL import Image  # noqa: E402
from plan_factory import plan_dict  # noqa: E402

from storybench.exceptions import ConfigError, PublishError, PublishRejected, UnknownBackendError  # noqa: E402
from storybench.llm.base import GenerationOptions, LLMBackend, Message  # noqa: E402
from storybench.plan.loading import parse_plan  # noqa: E402
from storybench.publish import PlatformClient, PublishLedger, RetryPolicy, get_publish_target, parse_target  # noqa: E402
from storybench.publish.avatars import first_cell  # noqa: E402
from storybench.publish.captions import MAX_CAPTION, cut, fallback_caption, write_caption  # noqa: E402
from storybench.publish.cli import parse_pages  # noqa: E402
from storybench.publish.ledger import CharacterRecord  # noqa: E402
from storybench.publish.planning import PostItem, _speaker  # noqa: E402
from storybench.publish.retry import call_rpc  # noqa: E402
from storybench.publish.targets import register_publish_target  # noqa: E402
from storybench.publish.upload import expired  # noqa: E402


class FakeRpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode, details: str = "boom") -> None:
        self._code, self._details = code, details

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details


@pytest.mark.parametrize(
    ("text", "tls", "address", "secure"),
    [
        ("grpcs://api.example.com:443", False, "api.example.com:443", True),
        ("grpc://127.0.0.1:5000", True, "127.0.0.1:5000", False),
        ("platform:7000", False, "platform:7000", False),
        ("platform:7000", True, "platform:7000", True),
        ("grpcs://[::1]:9000", False, "[::1]:9000", True),
    ],
)
def test_parse_target(text, tls, address, secure):
    t = parse_target(text, tls=tls)
    assert (t.address, t.secure) == (address, secure)


@pytest.mark.parametrize("text", ["", "http://x:1", "grpcs://user:pw@x:1", "grpc://hostonly", "grpc://x:notaport"])
def test_parse_target_rejects(text):
    with pytest.raises(ConfigError):
        parse_target(text)


def test_client_sends_token_and_hides_it(monkeypatch):
    monkeypatch.setenv("STORYBENCH_PUBLISH_TOKEN", "secret-token-123")
    client = PlatformClient("grpc://127.0.0.1:1")
    try:
        assert client._metadata == (("authorization", "Bearer secret-token-123"),)
        assert "secret" not in repr(client) and "secret" not in client.label
    finally:
        client.close()
    monkeypatch.delenv("STORYBENCH_PUBLISH_TOKEN")
    with PlatformClient("grpc://127.0.0.1:1") as bare:
        assert bare._metadata == ()


def _failing(codes: list[grpc.StatusCode]):
    calls = {"n": 0}

    def call() -> str:
        calls["n"] += 1
        if codes:
            raise FakeRpcError(codes.pop(0))
        return "ok"

    return call, calls


def test_transient_codes_are_retried_with_backoff():
    slept: list[float] = []
    policy = RetryPolicy(attempts=5, backoff_seconds=0.5, max_backoff_seconds=1.5, sleep=slept.append)
    call, calls = _failing(
        [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE]
    )
    assert call_rpc(policy, "CreateAIPost", "page 2", call) == "ok"
    assert calls["n"] == 4 and slept == [0.5, 1.0, 1.5]


def test_transient_codes_give_up_after_attempts():
    policy = RetryPolicy(attempts=3, backoff_seconds=0, sleep=lambda s: None)
    call, calls = _failing([grpc.StatusCode.UNAVAILABLE] * 5)
    with pytest.raises(PublishError) as err:
        call_rpc(policy, "ConfirmUpload", "page 4", call)
    assert calls["n"] == 3 and "gave up after 3" in str(err.value) and err.value.code == "UNAVAILABLE"
    assert not isinstance(err.value, PublishRejected)


@pytest.mark.parametrize("code", ["INVALID_ARGUMENT", "PERMISSION_DENIED", "UNAUTHENTICATED"])
def test_fatal_codes_stop_at_once_naming_step_and_object(code):
    call, calls = _failing([getattr(grpc.StatusCode, code)])
    with pytest.raises(PublishRejected) as err:
        call_rpc(RetryPolicy(sleep=lambda s: None), "CreateCharacter", "character char-2 (Bo)", call)
    assert calls["n"] == 1
    assert str(err.value).startswith("publish CreateCharacter for character char-2 (Bo): boom")
    assert err.value.code == code


def test_other_codes_stop_without_retry():
    call, calls = _failing([grpc.StatusCode.INTERNAL])
    with pytest.raises(PublishError):
        call_rpc(RetryPolicy(sleep=lambda s: None), "CreateAIPost", "page 1", call)
    assert calls["n"] == 1


def test_parse_pages():
    assert parse_pages("1,3") == [1, 3]
    assert parse_pages("2-4, 7,3") == [2, 3, 4, 7]
    for bad in ("x", "0", "3-a"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_pages(bad)


def test_expired():
    assert expired(100, now=200) and expired(203, now=200) and not expired(300, now=200) and not expired(0, now=5)


def _post(narrative: str = "", dialogue: tuple[str, ...] = ()) -> PostItem:
    return PostItem("post:page-001", "page 1", 1, Path("p.png"), "image/png", "character:c", narrative, dialogue, ())


def test_fallback_caption_is_narrative_cut_at_word():
    long = "Ніч була темна " * 40
    text = fallback_caption(_post(long))
    assert len(text) <= MAX_CAPTION and text.endswith("…") and text.startswith("Ніч була темна")
    assert fallback_caption(_post("", ("Ann: Hi",))) == "Ann: Hi"
    assert fallback_caption(_post(), "Title") == "Title"
    assert cut("a  b\n c") == "a b c"


class CaptionLLM(LLMBackend):
    name = "caption-fake"

    def __init__(self, answer: str) -> None:
        super().__init__()
        self.answer = answer
        self.seen: list[list[Message]] = []

    def _complete(self, messages: list[Message], options: GenerationOptions) -> str:
        return self.answer

    def _stream(self, messages: list[Message], options: GenerationOptions) -> Iterator[str]:
        yield self.answer

    def _complete_json(self, messages: list[Message], schema: dict[str, Any], options: GenerationOptions) -> str:
        self.seen.append(messages)
        return self.answer


def test_llm_caption_used_when_in_the_language():
    llm = CaptionLLM('{"caption": "Оксана йде в туманний ліс із ліхтарем"}')
    post = _post("Ніхто не ходив у ліс.", ("Оксана: Хто тут?",))
    assert write_caption(llm, post, "uk", "Мавка") == "Оксана йде в туманний ліс із ліхтарем"
    prompt = llm.seen[0][0].content + llm.seen[0][1].content
    assert "Ukrainian" in prompt and "Ніхто не ходив у ліс." in prompt and "Оксана: Хто тут?" in prompt


@pytest.mark.parametrize(
    "answer", ['{"caption": "Oksana walks into the forest"}', "not json", '{"caption": ""}', '{"caption": "Мавка"}']
)
def test_llm_caption_falls_back_to_narrative(answer):
    post = _post("Ніхто не ходив у ліс.")
    assert write_caption(CaptionLLM(answer), post, "uk", "Мавка") == "Ніхто не ходив у ліс."


def test_speaker_is_who_speaks_most_else_narrator():
    data = plan_dict(("grid-2x2",))
    panels = data["chapters"][0]["pages"][0]["panels"]
    for p in panels:
        p["dialogue"] = []
    panels[0]["dialogue"] = [{"character": "char-1", "text": "Hi"}]
    panels[1]["dialogue"] = [{"character": "char-2", "text": "A much longer line"}]
    plan = parse_plan(data)
    page = plan.chapters[0].pages[0]
    assert _speaker(plan, page, "char-1") == "char-2"
    for p in panels:
        p["dialogue"] = []
    quiet = parse_plan(data)
    assert _speaker(quiet, quiet.chapters[0].pages[0], "char-1") == "char-1"


def test_first_cell_of_sheet():
    sheet = Image.new("RGB", (1024, 1024), (0, 0, 255))
    sheet.paste((255, 0, 0), (0, 0, 512, 1024))
    cell = first_cell(sheet, 128)
    assert cell.size == (128, 128)
    assert cell.getpixel((64, 64)) == (255, 0, 0)
    buf = io.BytesIO()
    cell.save(buf, "PNG")


def test_ledger_roundtrip_and_lock(tmp_path):
    path = tmp_path / "publish" / "x.ledger.json"
    with PublishLedger(path, target="grpc://h:1", world_id="w") as ledger:
        ledger.put_character(
            "character:a", CharacterRecord(display_name="A", publish_key="k", platform_id="p1", state="created")
        )
        with pytest.raises(ConfigError, match="another publish"):
            PublishLedger(path, target="grpc://h:1", world_id="w")
    again = PublishLedger(path, target="grpc://h:1", world_id="w")
    assert again.data.characters["character:a"].platform_id == "p1"
    again.close()
    path.write_text("{broken", encoding="utf-8")
    with pytest.raises(ConfigError, match="not a readable publish ledger"):
        PublishLedger(path, target="grpc://h:1", world_id="w")


def test_target_registry():
    with pytest.raises(UnknownBackendError, match="generia"):
        get_publish_target("nope")
    sentinel = object()
    register_publish_target("fake-target", lambda **kw: sentinel)
    assert get_publish_target("fake-target") is sentinel


def test_missing_extra_names_it(monkeypatch):
    import importlib.util

    from storybench.exceptions import MissingDependencyError
    from storybench.publish._deps import require_publish_extra

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "grpc" else real(name, *a))
    with pytest.raises(MissingDependencyError, match=r"storybench\[publish\]") as err:
        require_publish_extra()
    assert "grpcio" in str(err.value)


def test_a_create_call_is_not_repeated_when_its_answer_is_lost():
    from storybench.publish.retry import OutcomeUnknown

    for code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        call, calls = _failing([code])
        with pytest.raises(OutcomeUnknown) as err:
            call_rpc(RetryPolicy(sleep=lambda s: None), "CreateAIPost", "page 1", call, creates=True)
        assert calls["n"] == 1 and err.value.code == code.name
    # no connection was made: the request never left, so it is sent again
    calls = {"n": 0}

    def refused() -> str:
        calls["n"] += 1
        if calls["n"] == 1:
            raise FakeRpcError(grpc.StatusCode.UNAVAILABLE, "failed to connect to all addresses; Connection refused")
        return "ok"

    assert call_rpc(RetryPolicy(sleep=lambda s: None), "CreateCharacter", "c", refused, creates=True) == "ok"


def test_parse_resolve():
    from storybench.publish.cli import parse_resolve

    assert parse_resolve("char-1=5f3c") == ("char-1", "5f3c")
    assert parse_resolve("character:char-2=new") == ("char-2", "new")
    for bad in ("char-1", "=x", "char-1="):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_resolve(bad)


def test_redact_text_cuts_every_query():
    from storybench.publish.logs import redact_text

    line = 'HTTP Request: PUT https://s3.example/b/k.png?X-Amz-Credential=AK%2F&X-Amz-Signature=ab12 "HTTP/1.1 200 OK"'
    assert redact_text(line) == 'HTTP Request: PUT https://s3.example/b/k.png?<redacted> "HTTP/1.1 200 OK"'
    assert redact_text(redact_text(line)) == redact_text(line)
    assert "ab12" not in redact_text("url=X-Amz-Signature=ab12&X-Amz-Date=1")


def test_ctrl_c_speaks_of_what_was_published(monkeypatch, capsys, tmp_path):
    import storybench.publish as publishing
    from storybench.cli import main

    def interrupted(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(publishing, "publish", interrupted, raising=False)
    assert main(["publish", str(tmp_path), "--world", "w", "--no-llm"]) == 130
    err = capsys.readouterr().err
    assert "panels" not in err
    assert err.startswith("interrupted; run the same command again to finish") and "not published twice" in err
