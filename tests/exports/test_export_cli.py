"""`storybench render` of the manga plan with ``-p reading_direction '"ltr"'``, a cover and every
export: the CBZ says ``Manga=Yes`` (not right-to-left), the PDF and EPUB carry no right-to-left
direction, and the cover is the only ``FrontCover``."""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

from export_validators import module

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["-p", "page_width", "600", "-p", "page_height", "927", "-p", "dpi", "100", "-p", "margin", "20"]
SMALL += ["-p", "gutter", "12", "-p", "panel_max_side", "128", "-p", "show_thumbnails", "false"]


def test_manga_rendered_left_to_right_from_the_command_line(tmp_path: Path) -> None:
    pypdf = module("pypdf")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "storybench",
            "render",
            str(ROOT / "plans" / "mavka-forest-manga.json"),
            "--output-dir",
            str(tmp_path),
            "-p",
            "reading_direction",
            '"ltr"',
            "-p",
            "cover",
            "true",
            "-p",
            "exports",
            '["pdf","cbz","epub","webtoon"]',
            "-p",
            "author",
            '"Леся"',
            *SMALL,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run_dir = Path(re.search(r"run folder: (.+)", proc.stdout).group(1).strip())  # type: ignore[union-attr]
    with zipfile.ZipFile(run_dir / "mavka-forest-manga.cbz") as zf:
        info = ET.fromstring(zf.read("ComicInfo.xml"))
    assert info.findtext("Manga") == "Yes" and info.findtext("Writer") == "Леся"
    types = [p.get("Type") for p in info.iter("Page")]
    assert types[0] == "FrontCover" and set(types[1:]) == {"Story"}
    reader = pypdf.PdfReader(str(run_dir / "mavka-forest-manga.pdf"))
    assert "/ViewerPreferences" not in reader.trailer["/Root"] or (
        reader.trailer["/Root"]["/ViewerPreferences"].get("/Direction") != "/R2L"
    )
    assert reader.trailer["/Root"]["/Lang"] == "uk" and reader.metadata.author == "Леся"
    with zipfile.ZipFile(run_dir / "mavka-forest-manga.epub") as zf:
        opf = zf.read(next(n for n in zf.namelist() if n.endswith(".opf"))).decode()
    assert "page-progression-direction" not in opf
    assert (run_dir / "pages" / "cover.png").is_file() and sorted((run_dir / "webtoon").glob("*.png"))
