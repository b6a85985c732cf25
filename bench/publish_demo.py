"""Publish a rendered run to the local test platform (tests/publish_platform.py) and print the counts.

Usage::

    python bench/publish_demo.py RUN_DIR [--kill-at N]

1. ``storybench publish RUN_DIR --world W`` in a subprocess, then the platform's counts
   (AI characters, confirmed media, posts, S3 objects);
2. the same command again (it must create 0 characters, 0 media, 0 posts);
3. on a fresh platform: the publish SIGKILLed when the client asks for post ``N``
   (default 2), the counts then, a rerun, and the counts after;
4. a grep of the run's output folder and every captured output for the token.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from publish_platform import TestPlatform  # noqa: E402


def cli(run: Path, world: str, platform: TestPlatform, token: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "STORYBENCH_PUBLISH_TARGET": platform.target,
        "STORYBENCH_PUBLISH_TOKEN": token,
    }
    cmd = [sys.executable, "-m", "storybench.cli", "publish", str(run), "--world", world, "--no-llm", "--no-progress"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("run", type=Path)
    parser.add_argument("--kill-at", type=int, default=2)
    args = parser.parse_args()
    token = "sbtok-" + secrets.token_hex(16)
    captured: list[bytes] = []

    with TestPlatform(token, unavailable_first=("character", "media", "post")) as platform:
        for label in ("publish", "rerun"):
            proc = cli(args.run, "mavka-world", platform, token)
            out, err = proc.communicate(timeout=600)
            captured += [out, err]
            print(f"[{label}] exit {proc.returncode}: {out.decode().strip()}")
            print(f"[{label}] platform counts: {platform.counts('mavka-world')}")

    with TestPlatform(token, unavailable_first=()) as platform:
        procs: dict[str, subprocess.Popen[bytes]] = {}

        def kill(n: int) -> bool:
            if n == args.kill_at and "first" in procs:
                os.kill(procs["first"].pid, signal.SIGKILL)
                procs["first"].wait(timeout=30)
                return True
            return False

        platform.before["CreateAIPost"] = kill
        procs["first"] = cli(args.run, "mavka-kill", platform, token)
        out, err = procs["first"].communicate(timeout=600)
        captured += [out, err]
        platform.wait_idle()
        print(f"[killed] exit {procs.pop('first').returncode} (SIGKILL at CreateAIPost #{args.kill_at})")
        print(f"[killed] platform counts: {platform.counts('mavka-kill')}")
        proc = cli(args.run, "mavka-kill", platform, token)
        out, err = proc.communicate(timeout=600)
        captured += [out, err]
        print(f"[after rerun] exit {proc.returncode}: {out.decode().strip()}")
        print(f"[after rerun] platform counts: {platform.counts('mavka-kill')}")
        names = [c.display_name for c in platform.ai_characters("mavka-kill")]
        distinct = len({p["media_id"] for p in platform.posts})
        print(f"[after rerun] characters {sorted(names)}; distinct post media {distinct}")

    secret = token.encode()
    files = [p for p in args.run.parent.parent.rglob("*") if p.is_file()]
    hits = [str(p) for p in files if secret in p.read_bytes()] + [
        f"output #{i}" for i, b in enumerate(captured) if secret in b
    ]
    print(
        f"[grep] token searched in {len(files)} files under {args.run.parent.parent} "
        f"and {len(captured)} outputs: {len(hits)} hit(s) {hits}"
    )
    return 0 if not hits else 1


if __name__ == "__main__":
    sys.exit(main())
