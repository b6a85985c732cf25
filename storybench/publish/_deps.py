"""The ``publish`` extra: grpcio and protobuf, checked before the gRPC modules load."""

from __future__ import annotations

import importlib.util

from storybench.exceptions import MissingDependencyError

__all__ = ["require_publish_extra"]

_MODULES = (("grpc", "grpcio"), ("google.protobuf", "protobuf"))


def require_publish_extra() -> None:
    """Check that the ``publish`` extra is installed.

    Raises:
        MissingDependencyError: grpcio or protobuf is missing; the message names ``storybench[publish]``.
    """
    for module, package in _MODULES:
        try:
            found = importlib.util.find_spec(module) is not None
        except ImportError:  # a missing parent package (google)
            found = False
        if not found:
            raise MissingDependencyError("publishing", "publish", package)
