"""Saved and exported files shown as links.

JupyterLab serves the files under its root directory at ``<base_url>files/<relative path>``
(Jupyter Server's ``/files/`` handler) and opens them in a tab at
``<base_url>lab/tree/<relative path>``. A file outside the root has no URL: it is
shown as its full path. The root is the kernel's working directory at start-up unless
``STORYBENCH_SERVER_ROOT`` names it (the kernel does not know the server's root: a
notebook's kernel starts in the notebook's folder, so set it when notebooks live in a
subfolder of the root).
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from urllib.parse import quote

__all__ = ["file_link", "server_root"]

_START_DIR = Path.cwd()


def server_root() -> Path:
    """The folder JupyterLab serves (``STORYBENCH_SERVER_ROOT``, else the start-up working directory)."""
    env = os.environ.get("STORYBENCH_SERVER_ROOT", "").strip()
    return Path(env).expanduser().resolve() if env else _START_DIR.resolve()


def file_link(path: str | os.PathLike[str], label: str | None = None, *, root: Path | None = None) -> str:
    """HTML for a file: a link that opens it in JupyterLab when it is under the server root,
    else its full path in ``<code>``.

    Args:
        path: the file.
        label: the link text (default: the path relative to the root).
        root: the server root (default :func:`server_root`).

    Returns:
        An HTML fragment with the CSS class ``sb-file-link`` (or ``sb-file-path``).
    """
    full = Path(path).expanduser().resolve()
    base = (root or server_root()).resolve()
    try:
        rel = full.relative_to(base)
    except ValueError:
        return f"<code class='sb-file-path'>{html.escape(str(full))}</code>"
    href = "lab/tree/" + quote(rel.as_posix())
    text = label if label is not None else rel.as_posix()
    # a relative href resolves against JupyterLab's /lab/... page; the data attribute keeps the path
    return (
        f"<a class='sb-file-link' href='{_base_url()}{href}' target='_blank' "
        f"data-path='{html.escape(rel.as_posix())}' title='{html.escape(str(full))}'>{html.escape(text)}</a>"
    )


def _base_url() -> str:
    base = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/")
    return base if base.endswith("/") else base + "/"
