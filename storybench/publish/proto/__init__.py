"""The platform's protocol: ``character.proto``, ``media.proto``, ``post.proto`` and their message stubs.

The ``.proto`` files are the platform's own, unchanged: ``api/proto/{character,media,post}/``
of https://github.com/sdshorin/generia at commit ``08396d7cad3825a56a0ed66c952c237ffe2e47dd``
(package names included: ``generia.character``, ``media``, ``post``). Where seed 003
differs (its ``generia.media``/``generia.post`` packages, ``ConfirmUploadRequest.character_id``,
the field numbers of ``Character`` and ``GetPresignedUploadURLRequest``), these win.

The message stubs (``*_pb2.py``, ``*_pb2.pyi``) are generated with grpcio-tools and
committed, so installing ``storybench[publish]`` needs no compiler and no build step.
No service stubs are generated: :class:`~storybench.publish.client.PlatformClient` builds
its calls from the service names in the settings, so a fork that renamed a ``package``
needs no new code. ``tests/publish/test_publish_proto.py`` checks that the files are the
upstream copies kept in ``tests/data/generia_proto/`` and that the stubs match them.
After copying new upstream files, regenerate from the repository root::

    python -m grpc_tools.protoc -I. --python_out=. --pyi_out=. \\
        storybench/publish/proto/character.proto storybench/publish/proto/media.proto \\
        storybench/publish/proto/post.proto
"""

PROTO_FILES = ("character.proto", "media.proto", "post.proto")

__all__ = ["PROTO_FILES"]
