"""The platform's protocol (seed 003): ``character.proto``, ``media.proto``, ``post.proto``
and their Python stubs.

The stubs (``*_pb2.py``, ``*_pb2.pyi``, ``*_pb2_grpc.py``) are generated with
grpcio-tools and committed, so installing ``storybench[publish]`` needs no compiler
and no build step. ``tests/test_publish_proto.py`` checks that they match the
``.proto`` files. After editing a ``.proto`` file, regenerate from the repository root::

    python -m grpc_tools.protoc -I. --python_out=. --pyi_out=. --grpc_python_out=. \\
        storybench/publish/proto/character.proto storybench/publish/proto/media.proto \\
        storybench/publish/proto/post.proto
"""

PROTO_FILES = ("character.proto", "media.proto", "post.proto")

__all__ = ["PROTO_FILES"]
