"""Make the fixtures of ``tests/comfyui/test_comfyui_templates.py``: what ComfyUI's own frontend
sends for each official workflow template.

The test converts every UI-format template of the ``comfyui-workflow-templates`` package (the
version ComfyUI's ``requirements.txt`` pins) with storybench's
:func:`~storybench.render.comfyui.ui_convert.ui_to_api` and compares the result with the API JSON
that ComfyUI's frontend produces for the same template. This script makes that reference: it
starts a real ComfyUI (CPU, no model weights needed), opens its frontend in Chromium through
Playwright, and for each template calls ``app.loadGraphData(template)`` then
``app.graphToPrompt()`` (what "Queue" does before ``POST /prompt``), keeping ``.output``.

It writes, into ``--out`` (default ``tests/data/comfy_templates``):

- ``object_info.json.gz``: the server's ``GET /object_info``, only the node classes the templates
  use (what the test converts with);
- ``expected.json.gz``: ``{"versions": {...}, "templates": {file name: API JSON, or
  {"error": message} when the frontend could not queue it}, "cases": {name: {"ui": UI workflow,
  "api": API JSON}}}``; the cases (:data:`CASES`) are small workflows for what the templates do not
  show (text comments and escapes, a ``false`` seed control, a node saved without widget values).

Regenerate them for a new ComfyUI (the test names the versions it was made with):

1. a ComfyUI checkout with its own virtualenv: ``python -m venv venv && venv/bin/pip install
   torch torchvision -r requirements.txt`` (this installs the pinned ``comfyui-frontend-package``
   and ``comfyui-workflow-templates``);
2. Playwright in the Python that runs this script (``pip install playwright``; the browser is the
   system's Chromium, ``/usr/bin/chromium``: never ``playwright install``);
3. ``python scripts/make_template_fixtures.py --comfyui PATH/TO/ComfyUI`` (starts
   ``PATH/venv/bin/python main.py --cpu --listen 127.0.0.1 --port 8190`` and stops it at the
   end), or ``--url http://127.0.0.1:8188`` for a ComfyUI already running; ``--templates DIR``
   takes the templates from a folder instead of the ComfyUI virtualenv's package;
4. pin the new ``comfyui-workflow-templates`` version in ``pyproject.toml``'s ``test`` extra.
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "tests" / "data" / "comfy_templates"
CHROMIUM = "/usr/bin/chromium"

#: loads a UI workflow the way "Open" does (no dialogs) and returns what "Queue" would send.
_CONVERT_JS = """async (wf) => {
  const app = window.comfyAPI.app.app;
  await app.loadGraphData(wf, true, false, null,
    {showMissingNodesDialog: false, showMissingModelsDialog: false});
  const result = await app.graphToPrompt();
  return result.output;
}"""


def _node(node_id: int, cls: str, values: Any = None, **extra: Any) -> dict[str, Any]:
    node = {"id": node_id, "type": cls, "pos": [0, node_id * 100], "size": [300, 100], "mode": 0, **extra}
    if values is not None:
        node["widgets_values"] = values
    return node


#: small UI workflows for the rules the official templates do not exercise.
CASES: dict[str, dict[str, Any]] = {
    "widget_values": {
        "nodes": [
            _node(1, "CLIPTextEncode", ["a cat // a note\nwith \\{braces\\} and a /* gone */ hat"]),
            _node(2, "KSampler", [5, False, 30, 6.5, "heun", "karras", 0.5]),
            _node(3, "KSampler", [7, "increment", 25, 4.0, "euler", "normal", 1.0]),
            _node(4, "KSampler"),
            _node(5, "SaveImage", []),
            _node(6, "EmptyLatentImage", [640]),
        ],
        "links": [],
        "version": 0.4,
    },
}


def convert_cases(page: Any) -> dict[str, Any]:
    """``{name: {"ui", "api"}}`` for :data:`CASES`, converted by the frontend on ``page``."""
    return {name: {"ui": ui, "api": page.evaluate(_CONVERT_JS, ui)} for name, ui in CASES.items()}


def _get_json(url: str, timeout: float = 10.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read().decode("utf-8"))


def _wait_for(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            _get_json(f"{url}/system_stats", timeout=5)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"ComfyUI did not answer at {url} within {seconds:.0f} s") from None
            time.sleep(1)


def _templates_dir(python: str) -> Path:
    code = "import comfyui_workflow_templates as t; print(t.get_templates_path())"
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


def _package_version(python: str, name: str) -> str:
    code = f"import importlib.metadata as m; print(m.version({name!r}))"
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)
    return out.stdout.strip() or "unknown"


def template_files(folder: Path) -> list[Path]:
    """The UI-format workflow templates in ``folder`` (``*.json`` with ``nodes`` and ``links``)."""
    found = []
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and isinstance(data.get("nodes"), list) and isinstance(data.get("links"), list):
            found.append(path)
    return found


def used_classes(workflow: dict[str, Any]) -> set[str]:
    """Node classes a UI workflow uses, its subgraph definitions included."""
    graphs = [workflow, *((workflow.get("definitions") or {}).get("subgraphs") or [])]
    return {str(n.get("type")) for g in graphs for n in g.get("nodes") or [] if isinstance(n, dict)}


def convert_all(url: str, files: list[Path]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``{file name: graphToPrompt().output or {"error": ...}}`` from the frontend at ``url``,
    and the :data:`CASES` converted."""
    from playwright.sync_api import sync_playwright

    results: dict[str, Any] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.goto(url)
        page.wait_for_function(
            "window.comfyAPI && window.comfyAPI.app && window.comfyAPI.app.app.graph", timeout=120_000
        )
        page.wait_for_timeout(3000)  # extensions register their node types
        for path in files:
            workflow = json.loads(path.read_text(encoding="utf-8"))
            try:
                results[path.name] = page.evaluate(_CONVERT_JS, workflow)
            except Exception as exc:
                results[path.name] = {"error": str(exc).splitlines()[0][:300]}
            print(f"{path.name}: {len(results[path.name])} nodes", file=sys.stderr)
        cases = convert_cases(page)
        browser.close()
    return results, cases


def _write_gz(path: Path, data: Any, *, sort_keys: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = json.dumps(data, sort_keys=sort_keys, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    path.write_bytes(gzip.compress(raw, compresslevel=9, mtime=0))


def main(argv: list[str] | None = None) -> int:
    """Run the script (see the module docstring); returns the exit code."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--comfyui", type=Path, help="ComfyUI checkout with its venv/ (started on --port)")
    ap.add_argument("--python", help="the ComfyUI Python (default: COMFYUI/venv/bin/python)")
    ap.add_argument("--port", type=int, default=8190, help="port for the ComfyUI this script starts")
    ap.add_argument("--url", help="a running ComfyUI instead of starting one")
    ap.add_argument("--templates", type=Path, help="templates folder (default: the ComfyUI venv's package)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    if not args.url and not args.comfyui:
        ap.error("give --comfyui PATH (started here) or --url of a running ComfyUI")
    python = args.python or (str(args.comfyui / "venv" / "bin" / "python") if args.comfyui else sys.executable)
    server = None
    url = args.url.rstrip("/") if args.url else f"http://127.0.0.1:{args.port}"
    if not args.url:
        cmd = [python, "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(args.port)]
        server = subprocess.Popen(cmd, cwd=args.comfyui, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(url, 300)
        folder = args.templates or _templates_dir(python)
        files = template_files(folder)
        info = _get_json(f"{url}/object_info", timeout=60)
        outputs, cases = convert_all(url, files)
        used = {str(n["type"]) for case in CASES.values() for n in case["nodes"]}
        for path in files:
            used |= used_classes(json.loads(path.read_text(encoding="utf-8")))
        stats = _get_json(f"{url}/system_stats")
        versions = {
            "comfyui": stats.get("system", {}).get("comfyui_version", "unknown"),
            "comfyui-frontend-package": _package_version(python, "comfyui-frontend-package"),
            "comfyui-workflow-templates": _package_version(python, "comfyui-workflow-templates"),
        }
        _write_gz(args.out / "object_info.json.gz", {k: v for k, v in info.items() if k in used}, sort_keys=False)
        _write_gz(args.out / "expected.json.gz", {"versions": versions, "templates": outputs, "cases": cases})
        print(f"{len(outputs)} templates, versions {versions}; wrote {args.out}")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
