"""Secrets found by their shape: renders holding a bearer header, a URL's password in
``STORYBENCH_COMFYUI_URL``, a ``?token=``, an AWS key under an innocent key and a
``pw`` leave none of them in the output folder (run.json, notebooks, kernel log,
catalog cells, images) nor in the terminal output; the CLI refuses them as ``-p``
values without echoing them.

``SECRET_SWEEP=path`` writes the grep count of each secret there (for the report).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from plan_factory import plan_dict

from storybench.redact import (
    REDACTED,
    environment_secrets,
    has_secret_shape,
    looks_secret,
    redact,
    redact_value,
    secret_key_paths,
)

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
ROOT = TESTS.parent

URL_PASS = "Ur1Pa55wordXq"
BEARER = "zq81ZQ81bearerTOK9x"
TOKEN = "tq7QueryTokenValue42"
AWS = "AKIAQ7XZ3EXAMPLE42AB"
PW = "pwValue-9f8e7d6c"
SECRETS = {"url password": URL_PASS, "bearer": BEARER, "?token=": TOKEN, "AWS key": AWS, "pw": PW}
SHAPED = {
    "headers": {"X-Upstream": f"Bearer {BEARER}"},
    "lora": f"https://cdn.example.com/lora.safetensors?token={TOKEN}",
    "note": AWS,
    "pw": PW,
}
SMALL = ["-p", "page_width", "600", "-p", "page_height", "900", "-p", "panel_max_side", "256"]

API_RENDER = r"""
import json, sys
from pathlib import Path
from storybench.batch import render_plan
from storybench.config import RenderSettings
from storybench.plan import load_plan
from storybench.render.comfyui import ComfyUIBackend
plan, out, shaped = load_plan(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3])
settings = RenderSettings(page_width=600, page_height=900, panel_max_side=256, render_params=shaped, retries=1)
backend = ComfyUIBackend(workflow="empty_image", outage_seconds=1, probe_interval=0.2)
summary = render_plan(plan, backend=backend, output_dir=out, settings=settings, progress=False)
print(summary)
for job in summary.jobs if hasattr(summary, "jobs") else []:
    print(job)
"""


def cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("STORYBENCH_")}
    full.update(env, PYTHONPATH=os.pathsep.join([str(ROOT), str(TESTS)]))
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=180, env=full, cwd=str(cwd))


def hits(root: Path, secret: str) -> list[str]:
    """Files under ``root`` holding ``secret`` (raw bytes, or a catalog cell once decoded)."""
    found = []
    needle = secret.encode()
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        if needle in data:
            found.append(str(path))
        elif path.suffix == ".parquet":
            table = pq.read_table(io.BytesIO(data))
            if secret in json.dumps(table.to_pylist(), default=str):
                found.append(f"{path} (decoded)")
    return found


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """Every render of the sweep: (output folder, terminal text of all of them)."""
    from comfy_server import ComfyTestServer

    base = tmp_path_factory.mktemp("shapes")
    out = base / "out"
    plan = base / "plan.json"
    plan.write_text(json.dumps(plan_dict(("grid-2x2",), plan_id="shapes")), encoding="utf-8")
    terminal: list[str] = []
    codes = {}
    with ComfyTestServer(seconds_per_prompt=0.01) as server:
        host = server.url.split("://", 1)[1]
        env = {"STORYBENCH_COMFYUI_URL": f"http://alice:{URL_PASS}@{host}", "STORYBENCH_OUTAGE_SECONDS": "2"}
        render = ["-m", "storybench", "render", str(plan), "--backend", "comfyui", "--output-dir", str(out), "-v"]
        proc = cli([*render, "-p", "backend_options", '{"workflow": "empty_image"}', *SMALL], env, base)
        codes["cli render, URL password in the environment"] = proc.returncode
        terminal += [proc.stdout, proc.stderr]
        for key, value in SHAPED.items():  # each shape refused as a -p value, before anything starts
            options = json.dumps({"workflow": "empty_image", key: value})
            proc = cli([*render, "-p", "backend_options", options, *SMALL], env, base)
            codes[f"cli -p backend_options {key}"] = proc.returncode
            terminal += [proc.stdout, proc.stderr]
        proc = cli(["-c", API_RENDER, str(plan), str(out), json.dumps(SHAPED)], env, base)  # from code: stored
        codes["API render, every shape in render_params"] = proc.returncode
        terminal += [proc.stdout, proc.stderr]
    dead = {**env, "STORYBENCH_COMFYUI_URL": f"http://alice:{URL_PASS}@{host}"}  # the server is gone now
    proc = cli(
        [*render, "-p", "backend_options", '{"workflow": "empty_image"}', "-p", "force", "true", *SMALL], dead, base
    )
    codes["cli render, server down"] = proc.returncode
    terminal += [proc.stdout, proc.stderr]
    return out, "\n".join(terminal), codes


@pytest.mark.slow
def test_no_secret_shape_reaches_a_file_or_the_terminal(sweep):
    out, terminal, codes = sweep
    assert codes["cli render, URL password in the environment"] == 0, terminal
    assert all(codes[f"cli -p backend_options {key}"] == 1 for key in SHAPED), codes  # ConfigError
    assert terminal.count("refusing parameter 'backend_options.") == len(SHAPED)
    assert codes["cli render, server down"] != 0, codes
    assert codes["API render, every shape in render_params"] == 0, codes
    assert "alice:***@" in terminal  # the URL is shown, its password is not
    counts = {name: (len(hits(out, secret)), terminal.count(secret)) for name, secret in SECRETS.items()}
    if os.environ.get("SECRET_SWEEP"):
        lines = [f"{name}: {files} file(s), {said} terminal hit(s)" for name, (files, said) in counts.items()]
        Path(os.environ["SECRET_SWEEP"]).write_text("\n".join([*map(str, codes.items()), *lines]) + "\n")
    assert counts == {name: (0, 0) for name in SECRETS}, {n: hits(out, s) for n, s in SECRETS.items()}
    manifests = [json.loads(p.read_text()) for p in out.rglob("run.json")]
    assert len(manifests) >= 3
    api = next(m for m in manifests if m["settings"]["render_params"])
    assert api["settings"]["render_params"]["pw"] == REDACTED and api["settings"]["render_params"]["note"] == REDACTED
    assert api["settings"]["render_params"]["headers"]["X-Upstream"] == "Bearer ***"
    assert all(u.startswith("http://alice:***@") for m in manifests for u in m["backend_options"]["urls"])


def test_shapes_and_names():
    assert [looks_secret(n) for n in ("auth", "pw", "pwd", "pass", "sig", "X-Amz-Signature", "userPw")] == [True] * 7
    assert not any(looks_secret(n) for n in ("author", "passes", "page_width", "signal", "compass"))
    for text in (
        f"Bearer {BEARER}",
        "Basic dXNlcjpwYXNzd29yZA==",
        f"http://u:{URL_PASS}@h",
        f"/x?X-Amz-Signature={TOKEN}",
        AWS,
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "AIza" + "A1b2" * 8 + "xyz",
        "sk-proj-" + "a1B2" * 6,
        "hf_" + "aB3" * 11,
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
    ):
        assert has_secret_shape(text), text
        assert REDACTED in redact(text, environ={}), text
    prose = ("Basic configuration", "each token generation step", "the Bearer of bad news", "page 3: he walks")
    for text in (*prose, "/home/user/plans/a.json", "a" * 64, "0123456789abcdef" * 4):
        assert not has_secret_shape(text) and redact(text, environ={}) == text
    assert redact(f"see {URL_PASS} and x", environ={"STORYBENCH_COMFYUI_URL": f"http://a:{URL_PASS}@h"}) == (
        "see *** and x"
    )
    assert secret_key_paths({"n": "ok", "h": [f"Bearer {BEARER}"]}, "backend_options") == ["backend_options.h[0]"]
    assert redact_value({"b": [1, {"pwd": 42}], "a": f"?sig={TOKEN}"}, environ={}) == {
        "b": [1, {"pwd": REDACTED}],
        "a": "?sig=***",
    }


def test_the_working_folder_is_not_a_password():
    """``PWD`` names the shell's working folder ("print working directory"): paths under it stay
    readable in run.json and the terminal, while a ``pwd`` key in a value is still a secret."""
    env = {"PWD": "/home/writer/comics", "OLDPWD": "/home/writer", "DB_PWD": "hunter2-hunter2"}
    assert environment_secrets(env) == {"hunter2-hunter2"}
    text = "plan /home/writer/comics/plans/a.json, db hunter2-hunter2"
    assert redact(text, environ=env) == f"plan /home/writer/comics/plans/a.json, db {REDACTED}"
    assert redact_value({"pwd": "x" * 12}, environ=env) == {"pwd": REDACTED}
