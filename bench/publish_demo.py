"""Publish a rendered run to the local test platform (tests/publish_platform.py, compiled from the
platform's own .proto files) and print what happened.

Usage::

    python bench/publish_demo.py [RUN_DIR] [--second-run RUN_DIR] [--kill-at N] [--smoke]
    python bench/publish_demo.py --serve SECONDS --env-file FILE

Without ``RUN_DIR`` (or with ``--smoke``) it renders plans/mavka-forest-manga.json with the
storyboard backend into a temporary folder first.

1. ``storybench publish RUN_DIR --world W -v`` in a subprocess: its exit and summary, the
   platform's counts (AI characters, confirmed media, posts, S3 objects), the RPCs as the
   platform logged them, and how many lines of the ``-v`` output hold ``X-Amz-Signature``;
2. the same command again (no call at all);
3. the same command through a second address of the same platform (``grpc://localhost:PORT``)
   and, with ``--second-run``, on a re-render of the same plan: calls that create anything;
4. on a fresh platform: the publish SIGKILLed after the platform made post ``N`` (default 2),
   the counts then, a rerun, and the counts after;
5. a grep of the output folder and every captured output for the token.

``--serve SECONDS`` only starts a platform, writes ``export`` lines for its address, token and
name to ``--env-file``, serves for that long (or until interrupted), then prints its counts and
the RPCs it was called with.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from publish_platform import TestPlatform  # noqa: E402

from storybench.batch import render_plan  # noqa: E402

MAVKA = ROOT / "plans" / "mavka-forest-manga.json"


def cli(run: Path, world: str, platform: TestPlatform, token: str, *extra: str, target: str = "") -> tuple[int, str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "STORYBENCH_PUBLISH_TARGET": target or platform.target,
        "STORYBENCH_PUBLISH_TOKEN": token,
        "STORYBENCH_PUBLISH_PLATFORM": platform.name,
    }
    cmd = [sys.executable, "-m", "storybench.cli", "publish", str(run), "--world", world, "--no-llm", "--no-progress"]
    proc = subprocess.run([*cmd, *extra], env=env, capture_output=True, timeout=600, check=False)
    return proc.returncode, (proc.stdout + proc.stderr).decode()


def rpc_summary(log: list[str]) -> str:
    counts = Counter(log)
    return ", ".join(f"{name} x{n}" for name, n in counts.items())


def render(plan: Path, out: Path) -> Path:
    summary = render_plan(str(plan), backend="storyboard", output_dir=out, progress=False)
    return Path(summary.run_dir)


def serve(seconds: float, env_file: Path) -> int:
    token = "sbtok-" + secrets.token_hex(16)
    with TestPlatform(token, unavailable_first=()) as platform:
        env_file.write_text(
            f"export STORYBENCH_PUBLISH_TARGET={platform.target}\n"
            f"export STORYBENCH_PUBLISH_TOKEN={token}\n"
            f"export STORYBENCH_PUBLISH_PLATFORM={platform.name}\n",
            encoding="utf-8",
        )
        with contextlib.suppress(KeyboardInterrupt):
            time.sleep(seconds)
        print(f"[serve] platform counts: {platform.counts('mavka-world')}")
        print(f"[serve] RPCs as the platform logged them: {rpc_summary(platform.rpc_log)}")
    return 0


def demo(run: Path, second_run: Path | None, kill_at: int) -> int:
    token = "sbtok-" + secrets.token_hex(16)
    captured: list[str] = []
    world = "mavka-world"
    with TestPlatform(token, unavailable_first=()) as platform:
        code, text = cli(run, world, platform, token, "-v")
        captured.append(text)
        summary = [line for line in text.splitlines() if line.startswith("published")]
        print(f"[publish] exit {code}: {summary}")
        print(f"[publish] platform counts: {platform.counts(world)}")
        print(f"[publish] RPCs as the platform logged them: {rpc_summary(platform.rpc_log)}")
        print(f"[publish] in order: {' '.join(platform.rpc_log)}")
        puts = sum(1 for line in text.splitlines() if "HTTP Request: PUT" in line)
        signed = sum(1 for line in text.splitlines() if "X-Amz-Signature" in line)
        print(f"[publish -v] {puts} httpx PUT log line(s); lines holding X-Amz-Signature: {signed}")
        before = len(platform.rpc_log)
        code, text = cli(run, world, platform, token)
        captured.append(text)
        print(f"[rerun] exit {code}: calls made {len(platform.rpc_log) - before}")
        creates = platform.creates()
        second = f"grpc://localhost:{platform.port}"
        before = len(platform.rpc_log)
        code, text = cli(run, world, platform, token, target=second)
        captured.append(text)
        print(
            f"[second address {second}] exit {code}: calls {rpc_summary(platform.rpc_log[before:]) or 'none'}; "
            f"calls that create anything: {platform.creates() - creates}"
        )
        if second_run is not None:
            before = len(platform.rpc_log)
            code, text = cli(second_run, world, platform, token)
            captured.append(text)
            print(
                f"[re-render {second_run.name}] exit {code}: calls {len(platform.rpc_log) - before}; "
                f"calls that create anything: {platform.creates() - creates}"
            )
        print(f"[after all] platform counts: {platform.counts(world)}")

    with TestPlatform(token, unavailable_first=()) as platform:
        running: dict[str, subprocess.Popen[bytes]] = {}

        def kill(n: int) -> bool:
            if n == kill_at and "first" in running:
                os.kill(running["first"].pid, signal.SIGKILL)
                running["first"].wait(timeout=30)
                return True
            return False

        platform.after["CreateAIPost"] = kill  # the platform made the post; the answer never arrives
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "STORYBENCH_PUBLISH_TARGET": platform.target,
            "STORYBENCH_PUBLISH_TOKEN": token,
            "STORYBENCH_PUBLISH_PLATFORM": platform.name,
        }
        cmd = [sys.executable, "-m", "storybench.cli", "publish", str(run), "--world", "mavka-kill", "--no-llm"]
        running["first"] = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = running["first"].communicate(timeout=600)
        captured.append((out + err).decode())
        platform.wait_idle()
        print(f"[killed] exit {running.pop('first').returncode} (SIGKILL after CreateAIPost #{kill_at} committed)")
        print(f"[killed] platform counts: {platform.counts('mavka-kill')}")
        code, text = cli(run, "mavka-kill", platform, token)
        captured.append(text)
        summary = [line for line in text.splitlines() if line.startswith("published")]
        print(f"[after rerun] exit {code}: {summary}")
        print(f"[after rerun] platform counts: {platform.counts('mavka-kill')}")
        pages = Counter(platform.media[p["media_id"]]["filename"] for p in platform.posts)
        print(f"[after rerun] posts per page: {dict(sorted(pages.items()))}")

    files = [p for p in run.parent.parent.rglob("*") if p.is_file()]
    hits = [str(p) for p in files if token.encode() in p.read_bytes()]
    hits += [f"output #{i}" for i, text in enumerate(captured) if token in text]
    print(f"[grep] token searched in {len(files)} files and {len(captured)} outputs: {len(hits)} hit(s) {hits}")
    return 0 if not hits else 1


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("run", type=Path, nargs="?")
    parser.add_argument("--second-run", type=Path, default=None)
    parser.add_argument("--kill-at", type=int, default=2)
    parser.add_argument("--smoke", action="store_true", help="render the manga into a temporary folder first")
    parser.add_argument("--serve", type=float, default=0.0, metavar="SECONDS")
    parser.add_argument("--env-file", type=Path, default=Path("publish-platform.env"))
    args = parser.parse_args()
    if args.serve:
        return serve(args.serve, args.env_file)
    if args.run is None or args.smoke:
        with tempfile.TemporaryDirectory() as tmp:
            run = render(MAVKA, Path(tmp) / "outputs")
            return demo(run, render(MAVKA, Path(tmp) / "outputs"), args.kill_at)
    return demo(args.run, args.second_run, args.kill_at)


if __name__ == "__main__":
    sys.exit(main())
