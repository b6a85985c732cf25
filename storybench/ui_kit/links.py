"""Saved and exported files shown as links.

JupyterLab serves the files under its root directory at ``<base_url>files/<relative path>``
(Jupyter Server's ``/files/`` handler) and opens them in a tab at
``<base_url>lab/tree/<relative path>``. A file outside the root has no URL: it is
shown as its full path.

The root (:func:`server_root`): ``STORYBENCH_SERVER_ROOT`` when set; else the running
Jupyter servers on this machine are asked (``jupyter_server.serverapp.list_running_servers``
reads the ``jpserver-*.json`` files of Jupyter's runtime folder, which give each
server's ``root_dir`` and ``base_url``) and the server whose root is the nearest
folder above the kernel's start-up folder is taken (a notebook's kernel starts in the
notebook's folder, which may be a subfolder of the root); else the kernel's start-up
folder itself.
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

_Lister = Callable[[], Iterable[dict[str, Any]]]

try:  # JupyterLab's server: present wherever a notebook runs (the ``lab`` extra)
    from jupyter_server.serverapp import list_running_servers as _list_servers

    _LIST_SERVERS: _Lister | None = _list_servers
except ImportError:  # pragma: no cover - scripts without Jupyter: links fall back to paths
    _LIST_SERVERS = None

__all__ = ["file_link", "running_server", "server_root"]

_START_DIR = Path.cwd()


def running_server(start: Path | None = None, servers: _Lister | None = None) -> dict[str, Any] | None:
    """The running Jupyter server serving ``start`` (default: the start-up folder): the one
    whose ``root_dir`` is the nearest folder above it; ``None`` when none is.

    Args:
        start: the folder to serve.
        servers: lists the running servers' info dicts (default ``list_running_servers``).
    """
    lister = servers or _LIST_SERVERS
    if lister is None:
        return None
    try:
        infos = list(lister())
    except Exception:  # an unreadable runtime folder: no server known
        return None
    here = (start or _START_DIR).resolve()
    serving = [(root, info) for info in infos if (root := _root_of(info)) is not None and _under(here, root)]
    return max(serving, key=lambda pair: len(pair[0].parts))[1] if serving else None


def _root_of(info: dict[str, Any]) -> Path | None:
    root = info.get("root_dir") or info.get("notebook_dir")
    return Path(str(root)).expanduser().resolve() if root else None


def _under(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def server_root() -> Path:
    """The folder JupyterLab serves (see the module doc for how it is found)."""
    env = os.environ.get("STORYBENCH_SERVER_ROOT", "").strip()
    if env:
        return Path(env).expanduser().resolve()
    info = running_server()
    root = (info or {}).get("root_dir") or (info or {}).get("notebook_dir")
    return Path(str(root)).expanduser().resolve() if root else _START_DIR.resolve()


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
    info = running_server() if not os.environ.get("STORYBENCH_SERVER_ROOT", "").strip() else None
    base = os.environ.get("JUPYTERHUB_SERVICE_PREFIX") or str((info or {}).get("base_url") or "/")
    return base if base.endswith("/") else base + "/"
