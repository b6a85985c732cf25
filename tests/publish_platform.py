"""A local platform for the publish tests, built from the platform's own .proto files, with an S3 store.

* gRPC on 127.0.0.1 (ephemeral port). The services are compiled at import time, with
  grpcio-tools, from the upstream ``.proto`` files as they are
  (``tests/data/generia_proto/``, copies of sdshorin/generia ``api/proto``): their
  package and service names (``generia.character.CharacterService``,
  ``media.MediaService``, ``post.PostService``), messages and field numbers come from
  there, into a descriptor pool of their own (not the client's stubs). A method the
  platform does not implement answers ``UNIMPLEMENTED``, as gRPC does.
* What each call enforces is read from the Go services (``services/*-service/internal``):

  - ``CreateCharacter``: an AI character when ``real_user_id`` is empty; ``meta`` must be
    JSON (else ``INTERNAL``, the database's refusal); ids are server-made UUIDs.
  - ``GetCharacter``: ``NOT_FOUND`` for an unknown id. ``GetUserCharactersInWorld``:
    ``WHERE real_user_id = $1 AND world_id = $2``, so it never lists AI characters.
  - ``GetPresignedUploadURL``: no checks; a 32-hex media id, a 10-minute presigned ``PUT``
    for the object ``<world>/<character>/posts/<id><ext>`` (avatars: ``.../avatars/...``).
  - ``ConfirmUpload``: a plain error (gRPC ``UNKNOWN``) for an unknown media id or an
    object not in the store; else ``success=true`` with the ``original`` variant.
  - ``CreateAIPost``: ``INVALID_ARGUMENT`` without character, media or world; ``NOT_FOUND``
    for an unknown character, ``PERMISSION_DENIED`` for a non-AI one; ``INTERNAL`` for an
    unknown media; ``PERMISSION_DENIED`` when the media belongs to another character.
    The Go service stores no tags; this one keeps the request's tags for the tests to read.
  - ``GetCharacterPosts``: ``INVALID_ARGUMENT`` without a character; newest first,
    ``limit`` (default 10) and ``offset``; each post's ``media_url`` is a presigned
    ``GET`` of its media (no media id field).
  - ``HealthCheck``: ``"SERVING"`` (a string) for characters, the enum ``SERVING`` for
    media and posts.

  The upstream services check no token (a gateway does); this platform checks
  ``authorization: Bearer <token>`` on every call (``UNAUTHENTICATED`` otherwise).
* S3: moto's server mode (``ThreadedMotoServer`` on 127.0.0.1), behind a small HTTP proxy
  (also on 127.0.0.1) that can inject S3 faults.

Faults, set as attributes at any time:
    unavailable_first: services whose first call answers ``UNAVAILABLE`` (default all three).
    expire_next_urls: the next N URLs are issued already expired (``expires_at`` in the past).
    s3_reject_next: the next N ``PUT`` requests get S3's 403 ``SignatureDoesNotMatch``.
    s3_expired_next: the next N ``PUT`` requests get S3's 403 ``Request has expired``.
    s3_drop_answer_next: the next N ``PUT`` requests are stored, and the connection closes unanswered.
    confirm_false_next: the next N ``ConfirmUpload`` calls answer ``success=false``.
    refuse: ``{method: status code}``: the call is refused with that code (a gateway's refusal).
    before: ``{method: callable(n)}`` run at the start of call number ``n`` of a method
        (e.g. to SIGKILL the client); when it returns true the call is dropped (``UNAVAILABLE``)
        before anything is done.
    after: ``{method: callable(n)}`` run after call ``n`` committed, before it answers; when it
        returns true the answer is lost (``UNAVAILABLE`` after the commit).
    lose_answer: ``{method: k}``: the next ``k`` calls of a method commit and answer ``UNAVAILABLE``.
    delay: ``{method: seconds}``: the call works that long before it commits and answers.

Every call is logged in ``rpc_log`` as ``/package.Service/Method``, in order.
"""

from __future__ import annotations

import json
import logging
import socket
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import grpc
import httpx
from botocore.config import Config
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from moto.server import ThreadedMotoServer

PROTO_DIR = Path(__file__).resolve().parent / "data" / "generia_proto"
PROTO_FILES = ("character.proto", "media.proto", "post.proto")
_S3_ERROR = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>'

# the platform's own logs (moto's requests, botocore signing URLs) would show presigned URLs: they are
# the server's, not the client's, and stay quiet here
for _name in ("werkzeug", "botocore", "boto3", "moto", "urllib3", "s3transfer"):
    logging.getLogger(_name).setLevel(logging.WARNING)


@cache
def upstream_pool() -> descriptor_pool.DescriptorPool:
    """The upstream .proto files compiled now (grpcio-tools), in a pool of their own."""
    from grpc_tools import protoc

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "generia.pb"
        code = protoc.main(["protoc", f"-I{PROTO_DIR}", f"--descriptor_set_out={out}", *PROTO_FILES])
        assert code == 0, f"protoc failed on {PROTO_DIR}"
        files = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    pool = descriptor_pool.DescriptorPool()
    for f in files.file:
        pool.Add(f)
    return pool


def message(name: str) -> Any:
    """The message class ``name`` (e.g. ``"media.Media"``) of the upstream protocol."""
    return message_factory.GetMessageClass(upstream_pool().FindMessageTypeByName(name))


def service_names() -> dict[str, str]:
    """``{"character": "generia.character.CharacterService", ...}`` as the .proto files declare them."""
    pool = upstream_pool()
    out = {}
    for key, filename in zip(("character", "media", "post"), PROTO_FILES, strict=True):
        (service,) = pool.FindFileByName(filename).services_by_name.values()
        out[key] = service.full_name
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class _Proxy(BaseHTTPRequestHandler):
    """Forwards every request to moto unchanged, unless a fault is due."""

    platform: TestPlatform

    def log_message(self, *args: Any) -> None:
        pass

    def _forward(self) -> None:
        p = self.platform
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        fault = p.take_s3_fault() if self.command == "PUT" else None
        if fault is not None:
            payload = _S3_ERROR.format(code=fault[0], message=fault[1]).encode()
            self.send_response(403)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
        headers["Host"] = p.moto_netloc
        r = httpx.request(self.command, f"{p.moto_url}{self.path}", headers=headers, content=body, timeout=30)
        if self.command == "PUT" and r.status_code == 200:
            p.count("s3:PUT")
            with p._lock:
                drop = p.s3_drop_answer_next > 0
                p.s3_drop_answer_next -= int(drop)
            if drop:  # stored, but the uploader never hears back
                self.close_connection = True
                return
        self.send_response(r.status_code)
        for k, v in r.headers.items():
            if k.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(r.content)))
        self.end_headers()
        self.wfile.write(r.content)

    do_PUT = do_GET = do_HEAD = _forward


class _Abort(Exception):
    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        self.code, self.details = code, details


class TestPlatform:
    """The platform; use as a context manager. ``target`` is its gRPC address (``grpc://127.0.0.1:PORT``).

    Args:
        token: the bearer token every call must carry.
        unavailable_first: services whose first call answers ``UNAVAILABLE``.
        tls: (private key PEM, certificate PEM): serve over TLS at ``grpcs://localhost:PORT``.
        renamed: ``{"media": "other.MediaService"}``: serve a service under another name (a fork).
    """

    __test__ = False

    def __init__(
        self,
        token: str,
        *,
        unavailable_first: tuple[str, ...] = ("character", "media", "post"),
        tls: tuple[bytes, bytes] | None = None,
        renamed: dict[str, str] | None = None,
    ) -> None:
        self.token = token
        self.tls = tls
        self.name = f"test-platform-{uuid.uuid4().hex[:8]}"  # its STORYBENCH_PUBLISH_PLATFORM
        self.services = {**service_names(), **(renamed or {})}
        self.unavailable_first = set(unavailable_first)
        self.expire_next_urls = 0
        self.s3_reject_next = 0
        self.s3_expired_next = 0
        self.s3_drop_answer_next = 0
        self.confirm_false_next = 0
        self.refuse: dict[str, grpc.StatusCode] = {}
        self.before: dict[str, Callable[[int], bool | None]] = {}
        self.after: dict[str, Callable[[int], bool | None]] = {}
        self.lose_answer: Counter[str] = Counter()
        self.delay: dict[str, float] = {}
        self.calls: Counter[str] = Counter()
        self.rpc_log: list[str] = []
        self.characters: dict[str, Any] = {}
        self.media: dict[str, dict[str, Any]] = {}
        self.posts: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._served: set[str] = set()
        self.in_flight = 0
        # moto keeps its state per process: a bucket of its own keeps each platform's count exact
        self.bucket = f"platform-media-{uuid.uuid4().hex[:10]}"

    # -- lifecycle -----------------------------------------------------------------
    def __enter__(self) -> TestPlatform:
        moto_port = free_port()
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
        self._moto.start()
        self.moto_netloc = f"127.0.0.1:{moto_port}"
        self.moto_url = f"http://{self.moto_netloc}"
        handler = type("Proxy", (_Proxy,), {"platform": self})
        self._proxy = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.s3_url = f"http://127.0.0.1:{self._proxy.server_address[1]}"
        threading.Thread(target=self._proxy.serve_forever, daemon=True).start()
        creds = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}
        self.s3 = boto3.client("s3", endpoint_url=self.moto_url, **creds)
        self.s3.create_bucket(Bucket=self.bucket)
        # URLs are signed for the proxy's address (what the uploader reaches)
        self._signer = boto3.client(
            "s3",
            endpoint_url=self.s3_url,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
            **creds,
        )
        self._server = grpc.server(ThreadPoolExecutor(max_workers=8))
        impls = {"character": _Characters(self), "media": _Media(self), "post": _Posts(self)}
        pool = upstream_pool()
        for key, filename in zip(("character", "media", "post"), PROTO_FILES, strict=True):
            (service,) = pool.FindFileByName(filename).services_by_name.values()
            self._server.add_generic_rpc_handlers([self._handlers(key, service, impls[key])])
        if self.tls is None:
            port = self._server.add_insecure_port("127.0.0.1:0")
            self.target = f"grpc://127.0.0.1:{port}"
        else:
            port = self._server.add_secure_port("127.0.0.1:0", grpc.ssl_server_credentials([self.tls]))
            self.target = f"grpcs://localhost:{port}"
        self.port = port
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop(grace=None)
        self._proxy.shutdown()
        self._proxy.server_close()
        self._moto.stop()

    def _handlers(self, key: str, service: Any, impl: Any) -> grpc.GenericRpcHandler:
        handlers = {}
        for method in service.methods:
            fn = getattr(impl, method.name, None)
            if fn is None:
                continue  # not implemented here: gRPC answers UNIMPLEMENTED
            request = message_factory.GetMessageClass(method.input_type)
            response = message_factory.GetMessageClass(method.output_type)
            handlers[method.name] = grpc.unary_unary_rpc_method_handler(
                self._wrap(key, method.name, fn),
                request_deserializer=request.FromString,
                response_serializer=response.SerializeToString,
            )
        return grpc.method_handlers_generic_handler(self.services[key], handlers)

    def _wrap(self, key: str, method: str, fn: Callable[[Any], Any]) -> Callable[[Any, Any], Any]:
        def handle(request: Any, context: grpc.ServicerContext) -> Any:
            with self._lock:
                self.in_flight += 1
                self.rpc_log.append(f"/{self.services[key]}/{method}")
            try:
                self._enter(key, method, context)
                if method in self.delay:
                    time.sleep(self.delay[method])
                try:
                    answer = fn(request)
                except _Abort as exc:
                    context.abort(exc.code, exc.details)
                n = self.calls[method]
                hook = self.after.get(method)
                lost = bool(hook is not None and hook(n))
                with self._lock:
                    if self.lose_answer[method] > 0:
                        self.lose_answer[method] -= 1
                        lost = True
                if lost:
                    context.abort(grpc.StatusCode.UNAVAILABLE, "connection reset after the call was carried out")
                return answer
            finally:
                with self._lock:
                    self.in_flight -= 1

        return handle

    # -- helpers used by the services -------------------------------------------------
    def count(self, name: str) -> int:
        with self._lock:
            self.calls[name] += 1
            return self.calls[name]

    def take_s3_fault(self) -> tuple[str, str] | None:
        with self._lock:
            if self.s3_reject_next > 0:
                self.s3_reject_next -= 1
                return (
                    "SignatureDoesNotMatch",
                    "The request signature we calculated does not match the signature you provided.",
                )
            if self.s3_expired_next > 0:
                self.s3_expired_next -= 1
                return ("AccessDenied", "Request has expired")
        return None

    def _enter(self, service: str, method: str, context: grpc.ServicerContext) -> int:
        """Count the call, run its hook, check the token, inject UNAVAILABLE on a service's first call.

        ``HealthCheck`` needs no token (as health probes behind a gateway usually do not), and
        a service's first other call fails as a client sees a service that is not listening
        yet: ``UNAVAILABLE`` "failed to connect", nothing done.
        """
        n = self.count(method)
        hook = self.before.get(method)
        if hook is not None and hook(n):
            context.abort(grpc.StatusCode.UNAVAILABLE, "connection lost")
        if method == "HealthCheck":
            return n
        metadata = dict(context.invocation_metadata())
        if metadata.get("authorization") != f"Bearer {self.token}":
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")
        if method in self.refuse:
            context.abort(self.refuse[method], f"{method} refused")
        with self._lock:
            first = service in self.unavailable_first and service not in self._served
            self._served.add(service)
        if first:
            context.abort(
                grpc.StatusCode.UNAVAILABLE,
                f"failed to connect to all addresses; last error: UNAVAILABLE: Connection refused ({service} starting)",
            )
        return n

    def presigned_get(self, media: dict[str, Any]) -> str:
        return str(
            self._signer.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": media["key"]}, ExpiresIn=3600
            )
        )

    # -- what the tests read back ---------------------------------------------------------
    def wait_idle(self, timeout: float = 30.0) -> None:
        """Return once no call is being handled (e.g. the one a killed client left behind)."""
        deadline = time.monotonic() + timeout
        while self.in_flight and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not self.in_flight, f"{self.in_flight} call(s) still running"

    def ai_characters(self, world_id: str) -> list[Any]:
        return [c for c in self.characters.values() if c.world_id == world_id and c.is_ai]

    def confirmed_media(self) -> list[dict[str, Any]]:
        return [m for m in self.media.values() if m["confirmed"]]

    def s3_object_count(self) -> int:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
        return sum(len(page.get("Contents", [])) for page in pages)

    def counts(self, world_id: str) -> dict[str, int]:
        return {
            "characters": len(self.ai_characters(world_id)),
            "confirmed_media": len(self.confirmed_media()),
            "posts": len([p for p in self.posts if p["world_id"] == world_id]),
            "s3_objects": self.s3_object_count(),
        }

    def creates(self) -> int:
        """Calls that create something (characters, media records, posts)."""
        return sum(self.calls[m] for m in ("CreateCharacter", "GetPresignedUploadURL", "CreateAIPost", "s3:PUT"))


class _Characters:
    def __init__(self, p: TestPlatform) -> None:
        self.p = p

    def _with_avatar_url(self, ch: Any) -> Any:
        out = message("generia.character.Character")()
        out.CopyFrom(ch)
        media = self.p.media.get(ch.avatar_media_id) if ch.HasField("avatar_media_id") else None
        if media is not None:
            out.avatar_url = self.p.presigned_get(media)
        return out

    def CreateCharacter(self, request: Any) -> Any:
        meta = request.meta if request.HasField("meta") and request.meta else "{}"
        try:
            json.loads(meta)
        except ValueError:
            raise _Abort(grpc.StatusCode.INTERNAL, "Failed to create character") from None
        ch = message("generia.character.Character")(
            id=str(uuid.uuid4()),
            world_id=request.world_id,
            is_ai=not request.real_user_id,
            display_name=request.display_name,
            meta=meta,
            created_at=_now(),
        )
        if request.real_user_id:
            ch.real_user_id = request.real_user_id
        if request.HasField("avatar_media_id") and request.avatar_media_id:
            ch.avatar_media_id = request.avatar_media_id
        with self.p._lock:
            self.p.characters[ch.id] = ch
        return ch

    def GetCharacter(self, request: Any) -> Any:
        ch = self.p.characters.get(request.character_id)
        if ch is None:
            raise _Abort(grpc.StatusCode.NOT_FOUND, "Character not found")
        return self._with_avatar_url(ch)

    def UpdateCharacter(self, request: Any) -> Any:
        ch = self.p.characters.get(request.character_id)
        fields = [f for f in ("display_name", "avatar_media_id", "meta") if request.HasField(f)]
        if ch is None or not fields:
            raise _Abort(grpc.StatusCode.INTERNAL, "Failed to update character")
        for f in fields:
            setattr(ch, f, getattr(request, f))
        return self._with_avatar_url(ch)

    def GetUserCharactersInWorld(self, request: Any) -> Any:
        found = [
            self._with_avatar_url(c)
            for c in self.p.characters.values()
            if c.HasField("real_user_id") and c.real_user_id == request.user_id and c.world_id == request.world_id
        ]
        return message("generia.character.CharacterList")(characters=found)

    def HealthCheck(self, request: Any) -> Any:
        return message("generia.character.HealthCheckResponse")(status="SERVING")


_OBJECT_DIRS = {3: "avatars", 4: "posts"}


class _Media:
    def __init__(self, p: TestPlatform) -> None:
        self.p = p

    def GetPresignedUploadURL(self, request: Any) -> Any:
        media_id = uuid.uuid4().hex
        ext = Path(request.filename).suffix
        where = _OBJECT_DIRS.get(request.media_type)
        if where:
            key = f"{request.world_id}/{request.character_id}/{where}/{media_id}{ext}"
        else:
            key = f"{request.character_id}/{media_id}{ext}"
        lifetime = 600
        with self.p._lock:
            stale = self.p.expire_next_urls > 0
            if stale:
                self.p.expire_next_urls -= 1
        if stale:
            lifetime = 1
        url = self.p._signer.generate_presigned_url(
            "put_object", Params={"Bucket": self.p.bucket, "Key": key}, ExpiresIn=lifetime
        )
        expires_at = int(time.time()) + lifetime - (10 if stale else 0)
        with self.p._lock:
            self.p.media[media_id] = {
                "media_id": media_id,
                "key": key,
                "world_id": request.world_id,
                "character_id": request.character_id,
                "filename": request.filename,
                "content_type": request.content_type,
                "size": request.size,
                "media_type": request.media_type,
                "confirmed": False,
            }
        return message("media.GetPresignedUploadURLResponse")(media_id=media_id, upload_url=url, expires_at=expires_at)

    def ConfirmUpload(self, request: Any) -> Any:
        media = self.p.media.get(request.media_id)
        if media is None:
            raise _Abort(grpc.StatusCode.UNKNOWN, "failed to get media from database: sql: no rows in result set")
        with self.p._lock:
            if self.p.confirm_false_next > 0:
                self.p.confirm_false_next -= 1
                return message("media.ConfirmUploadResponse")(success=False)
        try:
            self.p.s3.head_object(Bucket=self.p.bucket, Key=media["key"])
        except Exception:
            raise _Abort(
                grpc.StatusCode.UNKNOWN, "failed to verify media in storage: The specified key does not exist."
            ) from None
        media["confirmed"] = True
        variant = message("media.MediaVariant")(name="original", url=self.p.presigned_get(media))
        return message("media.ConfirmUploadResponse")(success=True, variants=[variant])

    def GetMedia(self, request: Any) -> Any:
        media = self.p.media.get(request.media_id)
        if media is None:
            raise _Abort(grpc.StatusCode.UNKNOWN, "failed to get media: sql: no rows in result set")
        return message("media.Media")(
            media_id=media["media_id"],
            character_id=media["character_id"],
            world_id=media["world_id"],
            filename=media["filename"],
            content_type=media["content_type"],
            size=media["size"],
            media_type=media["media_type"],
        )

    def GetMediaURL(self, request: Any) -> Any:
        media = self.p.media.get(request.media_id)
        if media is None:
            raise _Abort(grpc.StatusCode.UNKNOWN, "failed to get media from database: sql: no rows in result set")
        return message("media.GetMediaURLResponse")(url=self.p.presigned_get(media), expires_at=int(time.time()) + 3600)

    def HealthCheck(self, request: Any) -> Any:
        return message("media.HealthCheckResponse")(status=1)


class _Posts:
    def __init__(self, p: TestPlatform) -> None:
        self.p = p

    def CreateAIPost(self, request: Any) -> Any:
        if not request.character_id or not request.media_id or not request.world_id:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "character_id, media_id, and world_id are required")
        ch = self.p.characters.get(request.character_id)
        if ch is None:
            raise _Abort(grpc.StatusCode.NOT_FOUND, "Character not found")
        if not ch.is_ai:
            raise _Abort(grpc.StatusCode.PERMISSION_DENIED, "Cannot create AI post for non-AI character")
        media = self.p.media.get(request.media_id)
        if media is None:
            raise _Abort(grpc.StatusCode.INTERNAL, "failed to validate media")
        if media["character_id"] != request.character_id:
            raise _Abort(grpc.StatusCode.PERMISSION_DENIED, "media does not belong to the character")
        post = {
            "post_id": str(uuid.uuid4()),
            "character_id": request.character_id,
            "media_id": request.media_id,
            "world_id": request.world_id,
            "caption": request.caption,
            "tags": list(request.tags),
            "created_at": time.time(),
        }
        with self.p._lock:
            self.p.posts.append(post)
        return message("post.CreatePostResponse")(post_id=post["post_id"], created_at=_now())

    def GetCharacterPosts(self, request: Any) -> Any:
        if not request.character_id:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "character_id is required")
        limit = request.limit if request.limit > 0 else 10
        offset = max(request.offset, 0)
        mine = sorted(
            (p for p in self.p.posts if p["character_id"] == request.character_id),
            key=lambda p: p["created_at"],
            reverse=True,
        )
        ch = self.p.characters.get(request.character_id)
        out = [
            message("post.Post")(
                post_id=p["post_id"],
                character_id=p["character_id"],
                display_name=ch.display_name if ch is not None else "",
                caption=p["caption"],
                media_url=self.p.presigned_get(self.p.media[p["media_id"]]),
                world_id=p["world_id"],
                is_ai=True,
            )
            for p in mine[offset : offset + limit]
        ]
        return message("post.PostList")(posts=out, total=len(mine))

    def HealthCheck(self, request: Any) -> Any:
        return message("post.HealthCheckResponse")(status=1)
