"""Browser tests: JupyterLab 4 started by the test on 127.0.0.1, driven by Playwright
through the distribution's Chromium (``/usr/bin/chromium``; ``.ci/run`` installs it).

The server runs on a free port with a random token; its root is a temporary folder
holding copies of the notebooks (``notebooks/``) and plans (``plans/``), and the
kernels write into a temporary ``STORYBENCH_OUTPUT_DIR`` under it (no
``STORYBENCH_SERVER_ROOT``: the kernels, started in ``notebooks/``, find the root
from the running server). ``OLLAMA_HOST`` names a port where nothing answers. Each test writes a
screenshot of every step into ``<its tmp_path>/screenshots/`` (pytest keeps the last
three runs' tmp folders: ``/tmp/pytest-of-$USER/pytest-current/<test name>0/screenshots``;
``STORYBENCH_SCREENSHOTS=<dir>`` copies them there too).

Skipped when Playwright, JupyterLab or Chromium is missing.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

CHROMIUM = os.environ.get("STORYBENCH_CHROMIUM", "/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]

sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need playwright (the test extra)")
pytest.importorskip("jupyterlab", reason="browser tests need jupyterlab (the test extra)")
if not Path(CHROMIUM).is_file():
    pytest.skip(f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)


@dataclass
class Lab:
    """A running JupyterLab server."""

    url: str
    token: str
    root: Path
    outputs: Path

    def notebook_url(self, name: str) -> str:
        return f"{self.url}lab/tree/notebooks/{name}?token={self.token}&reset"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    base = tmp_path_factory.mktemp("lab")
    root, settings = base / "root", base / "settings"
    outputs = root / "outputs"  # under the server root: saved files show as JupyterLab links
    shutil.copytree(REPO / "notebooks", root / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    (root / "plans").mkdir(parents=True)
    shutil.copy(REPO / "plans" / "noir-rain-alley.json", root / "plans")
    from storybench.editor import example_plan
    from storybench.plan import save_plan

    save_plan(example_plan(), root / "plans" / "a-rain-on-podil.json")  # grid-2x2 first page, opened first
    notify = settings / "@jupyterlab" / "apputils-extension"
    notify.mkdir(parents=True)
    (notify / "notification.jupyterlab-settings").write_text('{"fetchNews": "false", "checkForUpdates": false}')
    tracker = settings / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True)
    (tracker / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')  # every cell in the DOM
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ)
    env.update(
        STORYBENCH_OUTPUT_DIR=str(outputs),
        OLLAMA_HOST=f"http://127.0.0.1:{_free_port()}",  # no Ollama server: a Start with ollama fails
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(base / "workspaces"),
        JUPYTER_RUNTIME_DIR=str(base / "runtime"),
        PYTHONPATH=os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p),
    )
    env.pop("STORYBENCH_STORY_STEP", None)
    env.pop("STORYBENCH_SERVER_ROOT", None)  # links find the server root from the running server itself
    log = (base / "jupyterlab.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            "--ServerApp.disable_check_xsrf=True",
            "--ServerApp.allow_root=True",  # CI containers run as root
        ],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(f"{url}api/status", params={"token": token}, timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"JupyterLab did not start; see {base / 'jupyterlab.log'}")
        time.sleep(0.5)
    try:
        yield Lab(url=url, token=token, root=root, outputs=outputs)
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(20)
        if proc.poll() is None:
            proc.kill()
        log.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


class Shots:
    """Numbered screenshots of a test's steps in ``<tmp_path>/screenshots``."""

    def __init__(self, page: object, folder: Path) -> None:
        self.page = page
        self.folder = folder
        self.n = 0
        folder.mkdir(parents=True, exist_ok=True)

    def __call__(self, name: str) -> Path:
        self.n += 1
        path = self.folder / f"{self.n:02d}-{name}.png"
        self.page.screenshot(path=str(path))  # type: ignore[attr-defined]
        return path


@pytest.fixture
def page(browser: object, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[object, Shots]]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})  # type: ignore[attr-defined]
    pg = context.new_page()
    shots = Shots(pg, tmp_path / "screenshots")
    try:
        yield pg, shots
    finally:
        with contextlib.suppress(Exception):
            shots("last")
        context.close()
        keep = os.environ.get("STORYBENCH_SCREENSHOTS")
        if keep:
            dest = Path(keep) / request.node.name
            shutil.copytree(shots.folder, dest, dirs_exist_ok=True)
        print(f"screenshots: {shots.folder}")


def open_and_run_all(page: object, lab: Lab, notebook: str) -> None:
    """Open a notebook in JupyterLab and run all its cells (Run → Run All Cells)."""
    p = page
    p.goto(lab.notebook_url(notebook))  # type: ignore[attr-defined]
    p.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)  # type: ignore[attr-defined]
    # JupyterLab may ask which kernel to start: take the proposed one (Python 3)
    deadline = time.monotonic() + 120
    while True:
        dialog = p.locator(".jp-Dialog .jp-mod-accept")  # type: ignore[attr-defined]
        if dialog.count() and dialog.first.is_visible():
            dialog.first.click()
        status = p.locator(".jp-StatusBar-Widget", has_text="Idle")  # type: ignore[attr-defined]
        if status.count():
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"the kernel of {notebook} did not become idle")
        p.wait_for_timeout(300)  # type: ignore[attr-defined]
    p.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()  # type: ignore[attr-defined]
    p.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()  # type: ignore[attr-defined]
    # fold the code away so the widget sits near the top, as a writer would (View → Collapse All Code)
    p.locator(".lm-MenuBar-itemLabel", has_text="View").first.click()  # type: ignore[attr-defined]
    p.locator(".lm-Menu-itemLabel", has_text="Collapse All Code").first.click()  # type: ignore[attr-defined]


def show(page: object, selector: str, timeout: float = 120_000) -> None:
    """Wait for ``selector`` and scroll it to the top of the notebook."""
    page.wait_for_selector(selector, timeout=timeout)  # type: ignore[attr-defined]
    page.locator(selector).first.evaluate("(el) => el.scrollIntoView({block: 'start'})")  # type: ignore[attr-defined]
    page.wait_for_timeout(200)  # type: ignore[attr-defined]


#: axe-core from npm: tests/browser's locked copy (``npm ci --prefix tests/browser``, as .ci/run
#: does), or ``STORYBENCH_AXE_CORE`` naming an ``axe.min.js``; else npm installs this version.
AXE_VERSION = "4"

AXE_RUN = """async (root) => {
  const r = await axe.run(document.querySelector(root));
  return {passes: r.passes.length, incomplete: r.incomplete.length, inapplicable: r.inapplicable.length,
          violations: r.violations.map(v => ({id: v.id, impact: v.impact || 'none', nodes: v.nodes.length,
                                              help: v.help, target: v.nodes[0].target.join(' ')}))};
}"""


@pytest.fixture(scope="session")
def axe_script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``axe.min.js`` of the npm package ``axe-core`` (see :data:`AXE_VERSION`); in CI a missing
    copy fails the test (``.ci/run`` installs it), elsewhere npm installs it or the test is skipped."""
    given = os.environ.get("STORYBENCH_AXE_CORE")
    if given:
        return Path(given)
    local = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
    if local.is_file():
        return local
    if os.environ.get("CI"):
        pytest.fail(f"axe-core is not installed ({local}): .ci/run runs npm ci --prefix tests/browser")
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("the accessibility check needs npm (apt-get install npm) for axe-core")
    prefix = tmp_path_factory.mktemp("axe")
    subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--prefix", str(prefix), f"axe-core@{AXE_VERSION}"],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return prefix / "node_modules" / "axe-core" / "axe.min.js"


@dataclass(frozen=True)
class AxeResult:
    """axe-core's results on one part of the page: how many rules passed, needed a human look
    (incomplete) or did not apply, and the violations (``id``, ``impact``, ``nodes``, ``help``, ``target``)."""

    passes: int
    incomplete: int
    inapplicable: int
    violations: list[dict]

    @property
    def by_impact(self) -> dict[str, list[tuple[str, int]]]:
        """``{impact: [(rule, nodes)]}`` of the violations."""
        out: dict[str, list[tuple[str, int]]] = {}
        for v in self.violations:
            out.setdefault(v["impact"], []).append((v["id"], v["nodes"]))
        return out

    @property
    def blocking(self) -> list[dict]:
        """The critical and serious violations."""
        return [v for v in self.violations if v["impact"] in ("critical", "serious")]

    def summary(self, where: str) -> str:
        """One line: the rule counts and the violations by impact."""
        counts = {
            impact: len(self.by_impact.get(impact, [])) for impact in ("critical", "serious", "moderate", "minor")
        }
        return (
            f"axe-core on {where}: {self.passes} rules passed, {self.incomplete} incomplete,"
            f" {self.inapplicable} inapplicable; violated rules by impact {counts}; {self.by_impact}"
        )


def run_axe(page: object, root: str, script: Path) -> AxeResult:
    """Inject axe-core (``script``) into ``page`` and run it on the element ``root`` (a CSS selector)."""
    page.add_script_tag(path=str(script))  # type: ignore[attr-defined]
    found = page.evaluate(AXE_RUN, root)  # type: ignore[attr-defined]
    return AxeResult(found["passes"], found["incomplete"], found["inapplicable"], found["violations"])
