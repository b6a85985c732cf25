"""Checks, on import of :mod:`storybench.publish`, that the ``publish`` extra is installed.

Raises:
    MissingDependencyError: grpcio or protobuf is missing; the message names ``storybench[publish]``.
"""

from __future__ import annotations

import importlib.util

from storybench.exceptions import MissingDependencyError

for _module, _package in (("grpc", "grpcio"), ("google.protobuf", "protobuf")):
    try:
        _found = importlib.util.find_spec(_module) is not None
    except ImportError:  # a missing parent package (google)
        _found = False
    if not _found:  # pragma: no cover - exercised only without the extra
        raise MissingDependencyError("publishing", "publish", _package)
