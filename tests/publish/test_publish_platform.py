"""Publishing a rendered run to the local platform (gRPC services + moto S3): counts, reruns, faults, errors."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

pytest.importorskip("grpc")
pytest.importorskip("moto")
from publish_support import MAVKA, WORLD, mavka_run, platform, render_run, token  # noqa: F401

from storybench.batch import read_catalog
from storybench.exceptions import PublishError, PublishRejected
from storybench.plan import load_plan
from storybench.publish import DryRun, PublishReport, RetryPolicy, ledger_path, publish

FAST = RetryPolicy(backoff_seconds=0.0, max_backoff_seconds=0.0)


def _publish(run: Path, **kw) -> PublishReport:
    kw.setdefault("policy", FAST)
    kw.setdefault("progress", False)
    result = publish(run, WORLD, **kw)
    assert isinstance(result, PublishReport)
    return result


def test_publish_mavka_run_then_rerun_creates_nothing(platform, mavka_run, token):
    plan = load_plan(MAVKA)
    report = _publish(mavka_run)
    n_chars, n_pages = len(plan.characters), plan.page_count()
    assert (report.created.characters, report.created.media, report.created.posts) == (
        n_chars,
        n_chars + n_pages,
        n_pages,
    )
    assert platform.counts(WORLD) == {
        "characters": n_chars,
        "confirmed_media": n_chars + n_pages,
        "posts": n_pages,
        "s3_objects": n_chars + n_pages,
    }
    # characters: names, AI, avatar confirmed, meta with appearance, role, seed, plan id, style
    by_name = {c.display_name: c for c in platform.ai_characters(WORLD)}
    assert set(by_name) == {c.name for c in plan.characters}
    for c in plan.characters:
        made = by_name[c.name]
        assert made.is_ai and not made.real_user_id
        assert platform.media[made.avatar_media_id]["confirmed"]
        assert platform.media[made.avatar_media_id]["character_id"] == ""
        meta = json.loads(made.meta)
        assert (meta["appearance"], meta["clothing"], meta["role"], meta["seed"]) == (
            c.appearance,
            c.clothing,
            c.role,
            c.seed,
        )
        assert (meta["plan_id"], meta["style"]) == (plan.id, plan.style)
    # one post per page, by the character who speaks most on it, with tags and a caption
    ids = {c.id: by_name[c.name].id for c in plan.characters}
    for (chapter, page), post in zip(plan.pages(), platform.posts, strict=True):
        talk: dict[str, int] = {}
        for panel in page.panels:
            for d in panel.dialogue:
                talk[d.character] = talk.get(d.character, 0) + len(d.text)
        speaker = max(talk, key=talk.__getitem__) if talk else plan.characters[0].id
        assert post["character_id"] == ids[speaker]
        assert post["tags"] == [plan.style, plan.title, plan.language, chapter.title]
        assert 0 < len(post["caption"]) <= 300
        media = platform.media[post["media_id"]]
        assert media["filename"] == f"page-{page.page_number:03d}.png"
        assert media["size"] == (mavka_run / "pages" / media["filename"]).stat().st_size
    # the rerun: nothing new on the platform, everything found in the ledger
    calls = sum(platform.calls.values())
    again = _publish(mavka_run)
    assert (again.created.characters, again.created.media, again.created.posts) == (0, 0, 0)
    assert (again.existing.characters, again.existing.media, again.existing.posts) == (
        n_chars,
        n_chars + n_pages,
        n_pages,
    )
    assert sum(platform.calls.values()) == calls  # not even a call
    assert platform.counts(WORLD)["posts"] == n_pages
    # catalog rows with the platform's ids
    catalog = read_catalog(mavka_run.parent.parent)
    rows = catalog[catalog.kind.isin(["character", "media", "post"])]
    assert sorted(rows.kind.value_counts().items()) == [
        ("character", n_chars),
        ("media", n_chars + n_pages),
        ("post", n_pages),
    ]
    assert set(rows.status) == {"completed"}
    assert set(rows[rows.kind == "post"].platform_id) == {p["post_id"] for p in platform.posts}
    assert set(rows[rows.kind == "character"].platform_id) == {c.id for c in platform.ai_characters(WORLD)}
    assert set(rows[rows.kind == "media"].platform_id) == {m["media_id"] for m in platform.confirmed_media()}
    pages = rows[rows.kind == "post"].sort_values("page_number")
    assert list(pages.page_number) == [1, 2, 3] and list(pages.path.str.rsplit("/", n=1).str[-1]) == [
        "page-001.png",
        "page-002.png",
        "page-003.png",
    ]
    assert all(json.loads(m)["world_id"] == WORLD for m in rows.metrics)


def test_faults_are_retried_and_counts_stay_exact(platform, tmp_path, token, caplog):
    run = render_run(MAVKA, tmp_path / "outputs")
    # UNAVAILABLE on the first call of each service is the platform's default
    platform.expire_next_urls = 1
    platform.s3_reject_next = 1
    platform.s3_expired_next = 1
    platform.confirm_false_next = 1
    slept: list[float] = []
    policy = RetryPolicy(backoff_seconds=0.25, max_backoff_seconds=1.0, upload_attempts=5, sleep=slept.append)
    with caplog.at_level(logging.INFO, logger="storybench.publish"):
        report = _publish(run, policy=policy)
    assert (report.created.characters, report.created.media, report.created.posts) == (2, 5, 3)
    assert platform.counts(WORLD) == {"characters": 2, "confirmed_media": 5, "posts": 3, "s3_objects": 5}
    assert slept[:1] == [0.25]  # backoff after UNAVAILABLE
    assert platform.calls["GetPresignedUploadURL"] == 1 + 5 + 3  # UNAVAILABLE once; expired, 403, expired again
    assert platform.calls["ConfirmUpload"] == 5 + 1
    assert platform.calls["s3:PUT"] == 5 + 1  # the confirm=false object was PUT again to the same URL
    text = caplog.text
    assert "UNAVAILABLE" in text and "expired" in text and "SignatureDoesNotMatch" in text and "success=false" in text


def test_upload_gives_up_after_bounded_attempts(platform, tmp_path, token):
    run = render_run(MAVKA, tmp_path / "outputs")
    platform.s3_reject_next = 100
    with pytest.raises(PublishError) as err:
        _publish(run, policy=RetryPolicy(backoff_seconds=0, upload_attempts=3))
    assert err.value.step == "upload" and "avatar of character char-1" in err.value.obj
    assert "gave up after 3 attempt(s)" in str(err.value)
    assert platform.calls["GetPresignedUploadURL"] == 1 + 3
    assert platform.counts(WORLD)["s3_objects"] == 0


def test_wrong_token_stops_naming_step_and_object(platform, tmp_path, monkeypatch):
    run = render_run(MAVKA, tmp_path / "outputs")
    monkeypatch.setenv("STORYBENCH_PUBLISH_TOKEN", "not-the-token")
    platform.unavailable_first.clear()
    with pytest.raises(PublishRejected) as err:
        _publish(run)
    e = err.value
    assert (e.step, e.code) == ("GetPresignedUploadURL", "UNAUTHENTICATED")
    assert "avatar of character char-1 (Оксана)" in str(e) and "STORYBENCH_PUBLISH_TOKEN" in str(e)
    assert platform.calls["GetPresignedUploadURL"] == 1  # not retried


def test_invalid_argument_is_not_retried(platform, tmp_path, token):
    run = render_run(MAVKA, tmp_path / "outputs")
    platform.unavailable_first.clear()
    with pytest.raises(PublishError) as err:
        publish(run, "", policy=FAST, progress=False)  # empty world: refused before any call
    assert err.value.step == "setup"
    # a character the platform refuses: unparseable meta cannot happen, so a gateway refuses it
    platform.refuse["CreateCharacter"] = pytest.importorskip(
        "grpc"
    ).StatusCode.INVALID_ARGUMENT  # the real service checks nothing
    with pytest.raises(PublishRejected) as err2:
        _publish(run)
    assert (err2.value.step, err2.value.code) == ("CreateCharacter", "INVALID_ARGUMENT")
    assert "character char-1 (Оксана)" in str(err2.value)
    assert platform.calls["CreateCharacter"] == 1


def test_pages_subset_then_the_rest(platform, tmp_path, token):
    run = render_run(MAVKA, tmp_path / "outputs")
    first = _publish(run, pages=[1, 3])
    assert first.created.posts == 2
    assert [platform.media[p["media_id"]]["filename"] for p in platform.posts] == ["page-001.png", "page-003.png"]
    rest = _publish(run)
    assert (rest.created.characters, rest.created.posts, rest.existing.posts) == (0, 1, 2)
    assert platform.counts(WORLD)["posts"] == 3
    with pytest.raises(Exception, match="no page 9"):
        _publish(run, pages=[9])


def test_dry_run_lists_with_sizes_and_sends_nothing(platform, tmp_path, token):
    run = render_run(MAVKA, tmp_path / "outputs")
    dry = publish(run, WORLD, dry=True)
    assert isinstance(dry, DryRun)
    assert (dry.characters, dry.uploads, dry.posts) == (2, 5, 3)
    text = str(dry)
    size = (run / "pages" / "page-002.png").stat().st_size
    assert f"page-002.png image/png {size:,} bytes" in text
    assert "portrait by storyboard" in text
    assert sum(platform.calls.values()) == 0
    assert not ledger_path(run.parent.parent, platform.name, WORLD, "mavka-forest-manga").exists()
    _publish(run, pages=[2])
    dry2 = publish(run, WORLD, dry=True)
    assert (dry2.characters, dry2.posts) == (0, 2) and "keep   post of page 2" in str(dry2)


def test_second_world_is_a_separate_publish(platform, tmp_path, token):
    run = render_run(MAVKA, tmp_path / "outputs")
    _publish(run)
    other = publish(run, "world-2", policy=FAST, progress=False)
    assert isinstance(other, PublishReport) and other.created.posts == 3
    assert platform.counts("world-2")["characters"] == 2 and platform.counts(WORLD)["characters"] == 2


def test_avatar_is_the_sheets_first_cell_when_the_run_has_sheets(tmp_path):
    from PIL import Image

    from storybench.publish.avatars import AVATAR_SIZE, avatar_bytes
    from storybench.publish.planning import plan_publication

    run = render_run(MAVKA, tmp_path / "outputs")
    sheet = Image.new("RGB", (1024, 1024), (0, 0, 200))
    sheet.paste((200, 0, 0), (0, 0, 512, 1024))  # front view cell
    (run / "characters").mkdir(exist_ok=True)
    sheet.save(run / "characters" / "char-1.png")
    plan = plan_publication(run)
    with_sheet, without = plan.characters
    assert with_sheet.avatar.sheet == run / "characters" / "char-1.png" and without.avatar.sheet is None
    dry = publish(run, WORLD, dry=True, target="grpc://127.0.0.1:1")
    assert "avatar-char-1.png image/png" in str(dry) and "sheet's first cell" in str(dry)
    import io

    avatar = Image.open(io.BytesIO(avatar_bytes(with_sheet.avatar)))
    assert avatar.size == (AVATAR_SIZE, AVATAR_SIZE) and avatar.getpixel((10, 10)) == (200, 0, 0)
    assert with_sheet.avatar.out_path.is_file()  # kept: a rerun uploads the same bytes
    portrait = Image.open(io.BytesIO(avatar_bytes(without.avatar)))
    assert portrait.size == (AVATAR_SIZE, AVATAR_SIZE)


def test_cli_reports_a_refused_step_and_exits_1(platform, tmp_path, monkeypatch, capsys):
    from storybench.cli import main

    run = render_run(MAVKA, tmp_path / "outputs")
    monkeypatch.setenv("STORYBENCH_PUBLISH_TOKEN", "wrong")
    platform.unavailable_first.clear()
    assert main(["publish", str(run), "--world", WORLD, "--no-llm", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "publish GetPresignedUploadURL for avatar of character char-1 (Оксана)" in err
    assert "UNAUTHENTICATED" in err and "STORYBENCH_PUBLISH_TOKEN" in err
    assert main(["publish", str(run), "--world", WORLD, "--pages", "7"]) == 1
    assert "no page 7" in capsys.readouterr().err


def _self_signed() -> tuple[bytes, bytes]:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pem_key, cert.public_bytes(serialization.Encoding.PEM)


def test_tls_when_the_target_says_grpcs(tmp_path, token, monkeypatch):
    pytest.importorskip("cryptography")
    from publish_platform import TestPlatform

    key, cert = _self_signed()
    ca = tmp_path / "ca.pem"
    ca.write_bytes(cert)
    run = render_run(MAVKA, tmp_path / "outputs")
    with TestPlatform(token, tls=(key, cert), unavailable_first=()) as tls_platform:
        assert tls_platform.target.startswith("grpcs://")
        monkeypatch.setenv("STORYBENCH_PUBLISH_TARGET", tls_platform.target)
        monkeypatch.setenv("STORYBENCH_PUBLISH_CA_FILE", str(ca))
        report = _publish(run)
        assert report.created.posts == 3 and tls_platform.counts(WORLD)["posts"] == 3
        # the same address without TLS does not get through
        plain = tls_platform.target.replace("grpcs://", "grpc://")
        with pytest.raises(PublishError) as err:
            publish(run, "other-world", target=plain, policy=RetryPolicy(attempts=2, backoff_seconds=0), progress=False)
        assert err.value.code == "UNAVAILABLE"


def test_a_put_without_an_answer_is_confirmed_not_uploaded_again(platform, tmp_path, token, caplog):
    run = render_run(MAVKA, tmp_path / "outputs")
    platform.unavailable_first.clear()
    platform.s3_drop_answer_next = 1  # the first avatar reaches S3; its answer does not reach us
    with caplog.at_level(logging.INFO, logger="storybench.publish"):
        report = _publish(run)
    assert platform.s3_drop_answer_next == 0 and "answered nothing" in caplog.text
    assert "asking the platform whether it arrived" in caplog.text
    assert (report.created.characters, report.created.media, report.created.posts) == (2, 5, 3)
    assert platform.counts(WORLD) == {"characters": 2, "confirmed_media": 5, "posts": 3, "s3_objects": 5}
    assert platform.calls["GetPresignedUploadURL"] == 5  # no new media id for it
    assert platform.calls["s3:PUT"] == 5 and platform.calls["ConfirmUpload"] == 5
