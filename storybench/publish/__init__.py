"""Publishing to a social platform (seed 003): AI characters, presigned media uploads, posts, over gRPC.

:func:`publish` takes a rendered comic run or a played story and a world id, and
makes the characters (with avatars), the uploads and the posts exist on the
platform, idempotently and resumably (a ledger next to the source records every
step). ``storybench publish`` and ``notebooks/publish.ipynb`` call it.

Modules: :mod:`~storybench.publish.proto` (the ``.proto`` files and stubs),
:mod:`~storybench.publish.client` (gRPC channel, token, TLS),
:mod:`~storybench.publish.retry` (which faults are retried),
:mod:`~storybench.publish.upload` (the presigned ``PUT``),
:mod:`~storybench.publish.ledger`, :mod:`~storybench.publish.planning` (what to
publish), :mod:`~storybench.publish.avatars`, :mod:`~storybench.publish.captions`,
:mod:`~storybench.publish.publisher` (the order of work), :mod:`~storybench.publish.catalog`,
:mod:`~storybench.publish.dryrun`, :mod:`~storybench.publish.targets` (the registry),
:mod:`~storybench.publish.cli`.

Needs the ``publish`` extra (grpcio, protobuf): ``pip install 'storybench[publish]'``.
"""

from storybench.publish import _deps  # noqa: F401  (first: says which extra to install)
from storybench.publish.api import publish
from storybench.publish.client import TOKEN_ENV, PlatformClient, parse_target
from storybench.publish.dryrun import DryRun
from storybench.publish.ledger import PublishLedger, ledger_path
from storybench.publish.planning import PublishPlan, plan_publication
from storybench.publish.publisher import PublishCounts, Publisher, PublishReport
from storybench.publish.retry import RetryPolicy
from storybench.publish.targets import PublishTarget, get_publish_target, register_publish_target

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
