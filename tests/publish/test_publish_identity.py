"""What a publish is keyed by (the platform's name, the world, the plan and the pages' content,
not the address or the run folder), the platform's service names, and what never reaches a log."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

pytest.importorskip("grpc")
pytest.importorskip("moto")
from PIL import Image
from publish_platform import TestPlatform
from publish_support import MAVKA, WORLD, new_token, platform, render_run, token  # noqa: F401

from storybench.exceptions import ConfigError, PublishError
from storybench.publish import PlatformClient, PublishReport, RetryPolicy, publish

FAST = RetryPolicy(backoff_seconds=0.0, max_backoff_seconds=0.0)


def _publish(run: Path, **kw) -> PublishReport:
    result = publish(run, WORLD, policy=FAST, progress=False, **kw)
    assert isinstance(result, PublishReport)
    return result


def test_another_address_and_a_rerender_publish_nothing_new(platform, tmp_path, token):
    out = tmp_path / "outputs"
    run = render_run(MAVKA, out)
    first = _publish(run)
    assert (first.created.characters, first.created.media, first.created.posts) == (2, 5, 3)
    creates = platform.creates()
    # the same platform through another address: its characters are read back, nothing is created
    other = f"grpc://localhost:{platform.port}"
    again = _publish(run, target=other)
    assert (again.created.characters, again.created.media, again.created.posts) == (0, 0, 0)
    assert (again.existing.characters, again.existing.posts) == (2, 3)
    assert platform.creates() == creates
    assert platform.calls["GetCharacter"] == 2
    # a re-render of the same plan: a new run folder, the same pages
    rerun = render_run(MAVKA, out)
    assert rerun != run
    assert [p.read_bytes() for p in sorted((rerun / "pages").glob("*.png"))] == [
        p.read_bytes() for p in sorted((run / "pages").glob("*.png"))
    ]
    third = _publish(rerun)
    assert (third.created.characters, third.created.media, third.created.posts) == (0, 0, 0)
    assert platform.creates() == creates
    assert platform.counts(WORLD) == {"characters": 2, "confirmed_media": 5, "posts": 3, "s3_objects": 5}
    # a changed page publishes as a new post, and only that page
    page = rerun / "pages" / "page-002.png"
    image = Image.open(page).convert("RGB")
    image.putpixel((0, 0), (255, 0, 255))
    image.save(page)
    fourth = _publish(rerun)
    assert (fourth.created.characters, fourth.created.media, fourth.created.posts) == (0, 1, 1)
    assert (fourth.existing.posts, platform.counts(WORLD)["posts"]) == (2, 4)


def test_a_ledger_from_another_deployment_is_not_trusted(platform, tmp_path, token, monkeypatch):
    run = render_run(MAVKA, tmp_path / "outputs")
    _publish(run)
    with TestPlatform(token, unavailable_first=()) as fresh:  # another deployment under the same name
        with pytest.raises(ConfigError, match="another deployment; name it with STORYBENCH_PUBLISH_PLATFORM"):
            _publish(run, target=fresh.target)
        assert fresh.creates() == 0
        monkeypatch.setenv("STORYBENCH_PUBLISH_PLATFORM", fresh.name)
        assert _publish(run, target=fresh.target).created.posts == 3


def test_service_names_are_the_platforms_and_can_be_renamed(tmp_path, token, monkeypatch):
    run = render_run(MAVKA, tmp_path / "outputs")
    with TestPlatform(token, unavailable_first=(), renamed={"media": "generia.media.MediaService"}) as fork:
        monkeypatch.setenv("STORYBENCH_PUBLISH_TARGET", fork.target)
        monkeypatch.setenv("STORYBENCH_PUBLISH_PLATFORM", fork.name)
        with pytest.raises(PublishError) as err:
            _publish(run)
        text = str(err.value)
        assert err.value.step == "HealthCheck" and err.value.code == "UNIMPLEMENTED"
        assert "media.MediaService at grpc://127.0.0.1" in text and "STORYBENCH_PUBLISH_MEDIA_SERVICE" in text
        assert fork.creates() == 0  # checked before anything is created
        monkeypatch.setenv("STORYBENCH_PUBLISH_MEDIA_SERVICE", "generia.media.MediaService")
        assert _publish(run).created.posts == 3
    assert [r for r in fork.rpc_log if r.endswith("HealthCheck")][-3:] == [
        "/generia.character.CharacterService/HealthCheck",
        "/generia.media.MediaService/HealthCheck",
        "/post.PostService/HealthCheck",
    ]


def test_the_default_names_are_what_the_upstream_protos_declare(platform, tmp_path, token):
    run = render_run(MAVKA, tmp_path / "outputs")
    _publish(run)
    assert platform.rpc_log[:3] == [
        "/generia.character.CharacterService/HealthCheck",
        "/media.MediaService/HealthCheck",
        "/post.PostService/HealthCheck",
    ]
    assert {r.rsplit("/", 1)[0] for r in platform.rpc_log} == {
        "/generia.character.CharacterService",
        "/media.MediaService",
        "/post.PostService",
    }


def test_no_presigned_url_in_any_log_line(platform, tmp_path, token, caplog, capsys):
    from storybench.cli import main

    run = render_run(MAVKA, tmp_path / "outputs")
    with caplog.at_level(logging.DEBUG):
        assert main(["publish", str(run), "--world", WORLD, "--no-llm", "--no-progress", "-v"]) == 0
    printed = capsys.readouterr()
    text = caplog.text + printed.out + printed.err
    assert "HTTP Request: PUT" in caplog.text  # httpx did log the uploads
    assert "X-Amz-Signature" not in text and "X-Amz-Credential" not in text
    assert "?<redacted>" in caplog.text


def test_token_over_plain_grpc_to_another_host_is_warned(monkeypatch, caplog):
    monkeypatch.setenv("STORYBENCH_PUBLISH_TOKEN", "secret-token-123")
    with caplog.at_level(logging.WARNING, logger="storybench.publish"):
        PlatformClient("grpc://10.0.0.7:50051").close()
        PlatformClient("grpc://127.0.0.1:50051").close()
        PlatformClient("grpcs://10.0.0.7:443").close()
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 1 and "clear text over grpc:// to 10.0.0.7" in warned[0]
    assert "grpcs://10.0.0.7:50051" in warned[0] and "secret-token-123" not in warned[0]


def test_an_unhealthy_service_is_named(tmp_path, token, monkeypatch):
    run = render_run(MAVKA, tmp_path / "outputs")
    from publish_platform import _Posts, message

    monkeypatch.setattr(_Posts, "HealthCheck", lambda self, request: message("post.HealthCheckResponse")(status=2))
    with TestPlatform(token) as sick:
        with pytest.raises(PublishError, match=r"post\.PostService at grpc://.*: the service is NOT_SERVING"):
            _publish(run, target=sick.target)
        assert sick.creates() == 0


def test_copied_run_folder_keeps_its_ledger(platform, tmp_path, token):
    """The ledger lives beside the catalog, so a run folder copied within the output folder is the same plan."""
    out = tmp_path / "outputs"
    run = render_run(MAVKA, out)
    _publish(run)
    copy = run.parent / (run.name + "-copy")
    shutil.copytree(run, copy)
    assert _publish(copy).created.posts == 0


def test_resolve_new_when_the_platform_did_not_make_it(platform, tmp_path, token):
    from storybench.exceptions import PublishUncertain

    run = render_run(MAVKA, tmp_path / "outputs")
    platform.unavailable_first.clear()
    platform.before["CreateCharacter"] = lambda n: n == 2  # dropped before anything is made
    with pytest.raises(PublishUncertain) as err:
        _publish(run)
    (line,) = [x for x in err.value.lines if x.startswith("uncertain")]
    assert line.startswith("uncertain: character char-2 (Лісовик): CreateCharacter was sent and its answer lost")
    assert "--resolve char-2=<character id>" in line and "--resolve char-2=new" in line
    report = err.value.report
    assert report.created.characters == 1 and len(platform.ai_characters(WORLD)) == 1
    dry = str(publish(run, WORLD, dry=True))
    assert "?      character 'Лісовик' (char-2): uncertain" in dry and "create character" not in dry
    # the rerun alone does not guess
    with pytest.raises(PublishUncertain):
        _publish(run)
    assert platform.calls["CreateCharacter"] == 2
    # an id that is not the character this publish made is refused
    other = next(iter(platform.characters))
    with pytest.raises(ConfigError, match="is not the one this publish made"):
        _publish(run, resolve={"char-2": other})
    with pytest.raises(ConfigError, match="the platform has no character nope"):
        _publish(run, resolve={"char-2": "nope"})
    with pytest.raises(ConfigError, match="no character char-9"):
        _publish(run, resolve={"char-9": "new"})
    done = _publish(run, resolve={"char-2": "new"})
    assert done.created.characters == 1 and not done.uncertain
    assert platform.counts(WORLD) == {"characters": 2, "confirmed_media": 5, "posts": 3, "s3_objects": 5}


def test_a_version_1_ledger_in_the_run_folder_is_taken_over(platform, tmp_path, token):
    import json
    import re

    from storybench.publish import ledger_path

    run = render_run(MAVKA, tmp_path / "outputs")
    _publish(run)
    new = ledger_path(run.parent.parent, platform.name, WORLD, "mavka-forest-manga")
    data = json.loads(new.read_text(encoding="utf-8"))
    # what version 1 wrote: keys without content, the address as the target, in the run folder
    plain = lambda key: re.sub(r"#\w+$", "", key)  # noqa: E731
    old = {
        "format": data["format"],
        "version": 1,
        "target": platform.target,
        "world_id": WORLD,
        "source": str(run),
        "characters": data["characters"],
        "media": {plain(k): v for k, v in data["media"].items()},
        "posts": {
            plain(k): {
                x: y for x, y in {**v, "media": plain(v["media"])}.items() if x not in ("media_id", "character_id")
            }
            for k, v in data["posts"].items()
        },
        "captions": data["captions"],
    }
    new.unlink()
    (run / "publish").mkdir(exist_ok=True)
    (run / "publish" / f"grpc_127.0.0.1_{platform.port}__{WORLD}.ledger.json").write_text(json.dumps(old), "utf-8")
    creates = platform.creates()
    again = _publish(run)
    assert (again.created.characters, again.created.media, again.created.posts) == (0, 0, 0)
    assert (again.existing.characters, again.existing.posts) == (2, 3)
    assert platform.creates() == creates and new.is_file()


def test_the_platform_lists_no_ai_character_by_user(platform, tmp_path, token):
    """Why a lost CreateCharacter cannot be looked up: ``WHERE real_user_id = $1 AND world_id = $2``."""
    import grpc
    from publish_platform import message

    run = render_run(MAVKA, tmp_path / "outputs")
    _publish(run)
    assert len(platform.ai_characters(WORLD)) == 2
    with grpc.insecure_channel(platform.target.removeprefix("grpc://")) as channel:
        lookup = channel.unary_unary(
            "/generia.character.CharacterService/GetUserCharactersInWorld",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=message("generia.character.CharacterList").FromString,
        )
        request = message("generia.character.GetUserCharactersInWorldRequest")(user_id="", world_id=WORLD)
        answer = lookup(request, metadata=(("authorization", f"Bearer {token}"),), timeout=10)
    assert list(answer.characters) == []
    assert platform.calls["GetUserCharactersInWorld"] == 1  # storybench itself never asks
