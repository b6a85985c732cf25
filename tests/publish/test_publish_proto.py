"""The committed stubs match the .proto files, which are the platform's own (sdshorin/generia
``api/proto``, kept as test data in tests/data/generia_proto), with its names and numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

grpc_tools = pytest.importorskip("grpc_tools")
from google.protobuf import descriptor_pb2  # noqa: E402
from grpc_tools import protoc  # noqa: E402

from storybench.publish.proto import PROTO_FILES, character_pb2, media_pb2, post_pb2  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
UPSTREAM = ROOT / "tests" / "data" / "generia_proto"
MODULES = {"character.proto": character_pb2, "media.proto": media_pb2, "post.proto": post_pb2}


@pytest.mark.parametrize("name", PROTO_FILES)
def test_package_protos_are_the_upstream_files(name):
    assert (ROOT / "storybench" / "publish" / "proto" / name).read_bytes() == (UPSTREAM / name).read_bytes()


@pytest.mark.parametrize("name", PROTO_FILES)
def test_committed_stubs_describe_the_upstream_protocol(tmp_path, name):
    out = tmp_path / "upstream.pb"
    assert protoc.main(["protoc", f"-I{UPSTREAM}", f"--descriptor_set_out={out}", str(UPSTREAM / name)]) == 0
    upstream = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file[0]
    committed = descriptor_pb2.FileDescriptorProto.FromString(MODULES[name].DESCRIPTOR.serialized_pb)
    for fd in (upstream, committed):
        fd.ClearField("name")  # where the file sits; everything else must be equal
        for message in fd.message_type:
            for f in message.field:
                f.ClearField("json_name")
    assert committed == upstream


@pytest.mark.parametrize("name", PROTO_FILES)
def test_committed_stubs_match_proto(tmp_path, name):
    out = tmp_path / "set.pb"
    rel = f"storybench/publish/proto/{name}"
    code = protoc.main(["protoc", f"-I{ROOT}", f"--descriptor_set_out={out}", str(ROOT / rel)])
    assert code == 0
    fresh = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes()).file[0]
    for message in fresh.message_type:  # the Python gencode leaves the default JSON names out
        for f in message.field:
            f.ClearField("json_name")
    committed = descriptor_pb2.FileDescriptorProto.FromString(MODULES[name].DESCRIPTOR.serialized_pb)
    assert committed == fresh, f"{rel} changed: regenerate the stubs (see storybench/publish/proto/__init__.py)"


def _fields(message) -> dict[str, int]:
    return {f.name: f.number for f in message.DESCRIPTOR.fields}


def test_platform_names_and_field_numbers():
    """The numbers and names of the platform's source (seed 003 had other ones: Character.meta 7,
    GetPresignedUploadURLRequest.character_id 1, ConfirmUploadRequest.character_id, and the
    packages generia.media / generia.post)."""
    assert _fields(character_pb2.CreateCharacterRequest) == {
        "world_id": 1,
        "real_user_id": 2,
        "display_name": 3,
        "avatar_media_id": 4,
        "meta": 5,
    }
    assert _fields(character_pb2.Character) == {
        "id": 1,
        "world_id": 2,
        "real_user_id": 3,
        "is_ai": 4,
        "display_name": 5,
        "avatar_media_id": 6,
        "avatar_url": 7,
        "meta": 8,
        "created_at": 9,
    }
    assert _fields(media_pb2.GetPresignedUploadURLRequest) == {
        "world_id": 1,
        "character_id": 2,
        "filename": 3,
        "content_type": 4,
        "size": 5,
        "media_type": 6,
    }
    assert media_pb2.GetPresignedUploadURLRequest.DESCRIPTOR.fields_by_name["size"].type == 3  # TYPE_INT64
    assert _fields(media_pb2.GetPresignedUploadURLResponse) == {"media_id": 1, "upload_url": 2, "expires_at": 3}
    assert _fields(media_pb2.ConfirmUploadRequest) == {"media_id": 1}
    assert _fields(media_pb2.ConfirmUploadResponse) == {"success": 1, "variants": 2}
    assert _fields(post_pb2.CreateAIPostRequest) == {
        "character_id": 1,
        "caption": 2,
        "media_id": 3,
        "world_id": 4,
        "tags": 5,
    }
    assert _fields(post_pb2.CreatePostResponse) == {"post_id": 1, "created_at": 2}
    services = {
        s.full_name: [m.name for m in s.methods]
        for mod in MODULES.values()
        for s in mod.DESCRIPTOR.services_by_name.values()
    }
    assert services == {
        "generia.character.CharacterService": [
            "CreateCharacter",
            "UpdateCharacter",
            "GetCharacter",
            "GetUserCharactersInWorld",
            "HealthCheck",
        ],
        "media.MediaService": [
            "GetPresignedUploadURL",
            "ConfirmUpload",
            "GetMedia",
            "GetMediaURL",
            "OptimizeImage",
            "HealthCheck",
        ],
        "post.PostService": [
            "CreatePost",
            "CreateAIPost",
            "GetPost",
            "GetUserPosts",
            "GetCharacterPosts",
            "GetPostsByIds",
            "GetGlobalFeed",
            "HealthCheck",
        ],
    }


def test_client_defaults_are_the_declared_service_names():
    from storybench.publish.settings import CHARACTER_SERVICE, MEDIA_SERVICE, POST_SERVICE

    declared = {s.full_name for mod in MODULES.values() for s in mod.DESCRIPTOR.services_by_name.values()}
    assert {CHARACTER_SERVICE, MEDIA_SERVICE, POST_SERVICE} == declared
