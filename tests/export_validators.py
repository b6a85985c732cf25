"""The real validators of the export tests, found (or installed) once, with a clear skip reason.

* ComicInfo: the ComicInfo XSD that the ``comicbox`` package ships (comicbox 5.4 ships the
  v2.1 draft, a superset of v2.0), validated with lxml, and comicbox's own validation;
* PDF: ``qpdf --check`` and ``pdftotext`` (Debian qpdf, poppler-utils), pypdf;
* Twee: ``extwee`` from npm — on PATH (``.ci/run`` installs it), else installed into a
  temporary folder with ``npm install`` when npm is there;
* EPUB: Debian's ``epubcheck`` (a jar: run with ``java -jar`` when it is not executable),
  and DAISY Ace (``ace-puppeteer`` from npm's ``@daisy/ace``, with the system Chromium);
* Markdown: markdown-it-py (the test extra), a CommonMark renderer.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

EXTWEE_VERSION = "2.3.18"


def missing(reason: str) -> None:
    """Skip for ``reason``; under CI (``CI=true``, where ``.ci/run`` installs every validator) fail instead."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}: .ci/run must install every validator", pytrace=False)
    pytest.skip(reason)


def module(name: str):
    """Import ``name`` (a test-extra package), or skip (fail under CI) saying how to install it."""
    try:
        return importlib.import_module(name)
    except ImportError:
        missing(f"{name} not installed (pip install {name}: the test extra)")


def need(tool: str) -> str:
    """The path of ``tool`` (beside this Python, else on PATH), or skip naming the package that brings it."""
    beside = Path(sys.executable).parent / tool
    path = str(beside) if beside.is_file() else shutil.which(tool)
    if path is None:
        if tool == "comicbox":
            missing("comicbox not installed (pip install comicbox: the test extra)")
        package = {"qpdf": "qpdf", "pdftotext": "poppler-utils", "xmllint": "libxml2-utils"}.get(tool, tool)
        missing(f"{tool} not installed (apt-get install {package}; .ci/run installs it)")
    assert path is not None
    return path


def comicinfo_xsd() -> Path:
    """The ComicInfo XSD shipped by comicbox."""
    try:
        import comicbox
    except ImportError:
        missing("comicbox not installed (pip install comicbox: the test extra)")
    schemas = Path(comicbox.__file__).parent / "schemas"
    found = sorted(schemas.glob("ComicInfo*.xsd"))
    if not found:
        missing(f"comicbox ships no ComicInfo XSD in {schemas}")
    v20 = [p for p in found if "v2.0" in p.name]
    return v20[0] if v20 else found[-1]


@cache
def _extwee_install() -> str | None:
    if shutil.which("extwee"):
        return shutil.which("extwee")
    npm = shutil.which("npm")
    if npm is None:
        return None
    folder = Path(os.environ.get("STORYBENCH_NPM_DIR", "/tmp/storybench-npm"))
    binary = folder / "node_modules" / ".bin" / "extwee"
    if not binary.exists():
        folder.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--prefix", str(folder), f"extwee@{EXTWEE_VERSION}"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if proc.returncode != 0:
            return None
    return str(binary) if binary.exists() else None


def extwee() -> str:
    """The extwee command, installing it from npm into a temporary folder when needed."""
    path = _extwee_install()
    if path is None:
        missing(f"extwee not installed and npm cannot install it (npm install -g extwee@{EXTWEE_VERSION})")
    assert path is not None
    return path


def epubcheck_command() -> list[str]:
    """The command that runs EPUBCheck."""
    path = shutil.which("epubcheck")
    if path is None:
        missing("epubcheck not installed (apt-get install epubcheck; .ci/run installs it)")
    assert path is not None
    with open(path, "rb") as f:
        is_jar = f.read(2) == b"PK"
    if is_jar:
        java = shutil.which("java")
        if java is None:
            missing("epubcheck is a jar and java is not installed (apt-get install default-jre-headless)")
        assert java is not None
        return [java, "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-jar", path]
    return [path]


def run_epubcheck(path: Path) -> subprocess.CompletedProcess[str]:
    """EPUBCheck's verdict on ``path``."""
    return subprocess.run([*epubcheck_command(), str(path)], capture_output=True, text=True, timeout=300)


#: DAISY Ace, the EPUB accessibility checker, as ``.ci/run`` installs it from npm.
ACE_VERSION = "1.4.6"


def ace_command() -> list[str]:
    """The command that runs DAISY Ace with puppeteer and the system Chromium.

    ``@daisy/ace`` installs ``ace`` (Electron, whose binary comes from GitHub) and
    ``ace-puppeteer`` (puppeteer, given ``/usr/bin/chromium`` through
    ``PUPPETEER_EXECUTABLE_PATH``); the second is used.
    """
    path = shutil.which("ace-puppeteer")
    if path is None:
        missing(
            "DAISY Ace not installed (PUPPETEER_SKIP_DOWNLOAD=1 ELECTRON_SKIP_BINARY_DOWNLOAD=1 "
            f"npm install -g @daisy/ace@{ACE_VERSION}; .ci/run installs it)"
        )
    if chromium() is None:
        missing("DAISY Ace needs Chromium (apt-get install chromium; .ci/run installs it)")
    assert path is not None
    return [path]


def chromium() -> str | None:
    """The system Chromium (``/usr/bin/chromium``, else ``chromium`` on PATH), ``None`` when absent."""
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else shutil.which("chromium")


def run_ace(epub: Path, out: Path) -> dict:
    """DAISY Ace's report (``report.json``, an EARL document) on ``epub``, written into ``out``."""
    command = [*ace_command(), "--silent", "--force", "--outdir", str(out), str(epub)]
    env = {**os.environ, "PUPPETEER_EXECUTABLE_PATH": str(chromium())}
    proc = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    report = out / "report.json"
    assert proc.returncode == 0 and report.is_file(), f"ace failed ({proc.returncode}): {proc.stdout}{proc.stderr}"
    return json.loads(report.read_text(encoding="utf-8"))


def ace_findings(report: dict) -> list[tuple[str, str, str]]:
    """Every violation in an Ace report: ``(impact, rule, document)``."""
    return [
        (b["earl:test"]["earl:impact"], b["earl:test"]["dct:title"], a["earl:testSubject"]["url"])
        for a in report.get("assertions", [])
        for b in a.get("assertions", [])
    ]
