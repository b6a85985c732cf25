"""Publishing to a social platform (seed 003, Generia): AI characters, presigned media uploads, posts, over gRPC.

:func:`publish` takes a rendered comic run or a played story and a world id, and
makes the characters (with avatars), the uploads and the posts exist on the
platform at most once, resumably: a ledger beside the output folder's catalog,
keyed by the platform's name, the world, the plan and the pages' content, records
every step, and a create call whose answer was lost is looked up on the platform
(or reported uncertain) instead of being sent again. ``storybench publish`` and
``notebooks/publish.ipynb`` call it. The protocol is the platform's own source
(sdshorin/generia ``api/proto``); where seed 003 differs, the source wins.

Modules: :mod:`~storybench.publish.proto` (the upstream ``.proto`` files and message stubs),
:mod:`~storybench.publish.settings` (the platform's name and service names),
:mod:`~storybench.publish.client` (gRPC channel, token, TLS, health checks, look-ups),
:mod:`~storybench.publish.retry` (which faults are retried; lost answers of create calls),
:mod:`~storybench.publish.upload` (the presigned ``PUT``), :mod:`~storybench.publish.media`
(one image: URL, ``PUT``, confirm, re-confirm), :mod:`~storybench.publish.logs` (no
presigned URL in any log line), :mod:`~storybench.publish.ledger`,
:mod:`~storybench.publish.planning` (what to publish), :mod:`~storybench.publish.avatars`,
:mod:`~storybench.publish.captions`, :mod:`~storybench.publish.publisher` (the order of
work and the recovery), :mod:`~storybench.publish.catalog`, :mod:`~storybench.publish.dryrun`,
:mod:`~storybench.publish.targets` (the registry), :mod:`~storybench.publish.cli`.

Needs the ``publish`` extra (grpcio, protobuf): ``pip install 'storybench[publish]'``.
The package itself imports without it (``storybench publish`` is always listed): its
public names load on first use (PEP 562), and without the extra that use raises
:class:`~storybench.exceptions.MissingDependencyError` naming it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from storybench.publish._deps import require_publish_extra

if TYPE_CHECKING:
    from storybench.publish.api import publish
    from storybench.publish.client import TOKEN_ENV, PlatformClient, parse_target
    from storybench.publish.dryrun import DryRun
    from storybench.publish.ledger import PublishLedger, ledger_path
    from storybench.publish.planning import PublishPlan, plan_publication
    from storybench.publish.publisher import PublishCounts, Publisher, PublishReport
    from storybench.publish.retry import RetryPolicy
    from storybench.publish.targets import PublishTarget, get_publish_target, register_publish_target

#: Public name -> the module that defines it.
_EXPORTS: dict[str, str] = {
    "TOKEN_ENV": "storybench.publish.client",
    "DryRun": "storybench.publish.dryrun",
    "PlatformClient": "storybench.publish.client",
    "PublishCounts": "storybench.publish.publisher",
    "PublishLedger": "storybench.publish.ledger",
    "PublishPlan": "storybench.publish.planning",
    "PublishReport": "storybench.publish.publisher",
    "PublishTarget": "storybench.publish.targets",
    "Publisher": "storybench.publish.publisher",
    "RetryPolicy": "storybench.publish.retry",
    "get_publish_target": "storybench.publish.targets",
    "ledger_path": "storybench.publish.ledger",
    "parse_target": "storybench.publish.client",
    "plan_publication": "storybench.publish.planning",
    "publish": "storybench.publish.api",
    "register_publish_target": "storybench.publish.targets",
}

__all__ = [
    "TOKEN_ENV",
    "DryRun",
    "PlatformClient",
    "PublishCounts",
    "PublishLedger",
    "PublishPlan",
    "PublishReport",
    "PublishTarget",
    "Publisher",
    "RetryPolicy",
    "get_publish_target",
    "ledger_path",
    "parse_target",
    "plan_publication",
    "publish",
    "register_publish_target",
]


def __getattr__(name: str) -> Any:
    """Load a public name on first use (PEP 562).

    Raises:
        MissingDependencyError: the ``publish`` extra (grpcio, protobuf) is not installed.
        AttributeError: no such name.
    """
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'storybench.publish' has no attribute {name!r}")
    require_publish_extra()
    return getattr(importlib.import_module(module), name)
