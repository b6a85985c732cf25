"""Export: page PNGs; the PDF (:mod:`.pdf`) and CBZ (:mod:`.cbz`, :mod:`.comicinfo`) exporters re-exported.

Every file is written atomically (``storybench.files``).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from PIL import Image

from storybench.compose.cbz import export_cbz
from storybench.compose.comicinfo import comic_info_xml
from storybench.compose.pdf import export_pdf
from storybench.files import atomic_write_bytes

__all__ = ["comic_info_xml", "export_cbz", "export_pdf", "save_page_png"]


def save_page_png(image: Image.Image, path: str | os.PathLike[str], *, dpi: int = 300) -> Path:
    """Write ``image`` as a PNG with its resolution set to ``dpi``, atomically.

    Returns:
        The path written.
    """
    buf = io.BytesIO()
    image.save(buf, "PNG", dpi=(dpi, dpi), compress_level=6)
    return atomic_write_bytes(path, buf.getvalue())
