"""A local platform for the publish tests: the three gRPC services of seed 003 and an S3 store.

* gRPC on 127.0.0.1 (ephemeral port): ``CharacterService``, ``MediaService`` and
  ``PostService`` implemented from the same ``.proto`` files as the client
  (``storybench/publish/proto``), state in memory, every call checked for
  ``authorization: Bearer <token>`` (``UNAUTHENTICATED`` otherwise).
* S3: moto's server mode (``ThreadedMotoServer`` on 127.0.0.1, free port), behind a
  small HTTP proxy (also on 127.0.0.1) that can inject S3 faults. The Media Service
  presigns real ``PUT`` URLs with boto3 (signed for the declared ``Content-Type``) and
  ``ConfirmUpload`` checks with ``HeadObject`` that the object exists with the
  declared size and content type.

Faults, set as attributes at any time:
    unavailable_first: services whose first call answers ``UNAVAILABLE`` (default all three).
    expire_next_urls: the next N URLs are issued already expired (``expires_at`` in the past).
    s3_reject_next: the next N ``PUT`` requests get S3's 403 ``SignatureDoesNotMatch``.
    s3_expired_next: the next N ``PUT`` requests get S3's 403 ``Request has expired``.
    confirm_false_next: the next N ``ConfirmUpload`` calls answer ``success=false``.
    before: ``{method: callable(n)}`` run at the start of call number ``n`` of a method
        (e.g. to SIGKILL the client process in the middle of a publish); when it returns
        true the call is dropped (``UNAVAILABLE``) instead of being carried out.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import grpc
import httpx
from botocore.config import Config
from moto.server import ThreadedMotoServer

from storybench.publish.proto import (
    character_pb2,
    character_pb2_grpc,
    media_pb2,
    media_pb2_grpc,
    post_pb2,
    post_pb2_grpc,
)

_S3_ERROR = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>'


logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request log would show presigned URLs


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
        self.send_response(r.status_code)
        for k, v in r.headers.items():
            if k.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(r.content)))
        self.end_headers()
        self.wfile.write(r.content)

    do_PUT = do_GET = do_HEAD = _forward


class _InFlight(grpc.ServerInterceptor):
    """Counts the calls being handled, so a test can wait until the platform is idle."""

    def __init__(self, platform: TestPlatform) -> None:
        self.platform = platform

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        inner, p = handler.unary_unary, self.platform

        def tracked(request, context):
            with p._lock:
                p.in_flight += 1
            try:
                return inner(request, context)
            finally:
                with p._lock:
                    p.in_flight -= 1

        return grpc.unary_unary_rpc_method_handler(
            tracked,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


class TestPlatform:
    """The platform; use as a context manager. ``target`` is its gRPC address (``grpc://127.0.0.1:PORT``)."""

    __test__ = False

    def __init__(
        self,
        token: str,
        *,
        unavailable_first: tuple[str, ...] = ("character", "media", "post"),
        tls: tuple[bytes, bytes] | None = None,
    ) -> None:
        self.token = token
        self.tls = tls  # (private key PEM, certificate PEM): serve gRPC over TLS, target grpcs://localhost:PORT
        self.unavailable_first = set(unavailable_first)
        self.expire_next_urls = 0
        self.s3_reject_next = 0
        self.s3_expired_next = 0
        self.confirm_false_next = 0
        self.before: dict[str, Callable[[int], None]] = {}
        self.calls: Counter[str] = Counter()
        self.characters: dict[str, character_pb2.Character] = {}
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
        self._server = grpc.server(ThreadPoolExecutor(max_workers=8), interceptors=[_InFlight(self)])
        character_pb2_grpc.add_CharacterServiceServicer_to_server(_Characters(self), self._server)
        media_pb2_grpc.add_MediaServiceServicer_to_server(_Media(self), self._server)
        post_pb2_grpc.add_PostServiceServicer_to_server(_Posts(self), self._server)
        if self.tls is None:
            port = self._server.add_insecure_port("127.0.0.1:0")
            self.target = f"grpc://127.0.0.1:{port}"
        else:
            port = self._server.add_secure_port("127.0.0.1:0", grpc.ssl_server_credentials([self.tls]))
            self.target = f"grpcs://localhost:{port}"
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop(grace=None)
        self._proxy.shutdown()
        self._proxy.server_close()
        self._moto.stop()

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

    def enter(self, service: str, method: str, context: grpc.ServicerContext) -> int:
        """Count the call, run its hook, check the token, inject UNAVAILABLE on a service's first call."""
        n = self.count(method)
        hook = self.before.get(method)
        if hook is not None and hook(n):
            context.abort(grpc.StatusCode.UNAVAILABLE, "connection lost")
        metadata = dict(context.invocation_metadata())
        if metadata.get("authorization") != f"Bearer {self.token}":
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")
        with self._lock:
            first = service in self.unavailable_first and service not in self._served
            self._served.add(service)
        if first:
            context.abort(grpc.StatusCode.UNAVAILABLE, f"{service} service is starting")
        return n

    # -- what the tests read back ---------------------------------------------------------
    def wait_idle(self, timeout: float = 30.0) -> None:
        """Return once no call is being handled (e.g. the one a killed client left behind)."""
        deadline = time.monotonic() + timeout
        while self.in_flight and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not self.in_flight, f"{self.in_flight} call(s) still running"

    def ai_characters(self, world_id: str) -> list[character_pb2.Character]:
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


class _Characters(character_pb2_grpc.CharacterServiceServicer):
    def __init__(self, p: TestPlatform) -> None:
        self.p = p

    def CreateCharacter(self, request, context):
        self.p.enter("character", "CreateCharacter", context)
        if not request.world_id or not request.display_name:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "world_id and display_name are required")
        if request.HasField("meta"):
            try:
                json.loads(request.meta)
            except ValueError:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, "meta is not JSON")
        if request.HasField("avatar_media_id"):
            media = self.p.media.get(request.avatar_media_id)
            if media is None or not media["confirmed"]:
                context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT, f"avatar media {request.avatar_media_id} is not confirmed"
                )
        ch = character_pb2.Character(
            id=f"chr-{uuid.uuid4().hex[:10]}",
            world_id=request.world_id,
            is_ai=not request.real_user_id,
            display_name=request.display_name,
            created_at=_now(),
        )
        for name in ("real_user_id", "avatar_media_id", "meta"):
            if request.HasField(name):
                setattr(ch, name, getattr(request, name))
        with self.p._lock:
            self.p.characters[ch.id] = ch
        return ch

    def GetCharacter(self, request, context):
        self.p.enter("character", "GetCharacter", context)
        ch = self.p.characters.get(request.character_id)
        if ch is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no character {request.character_id}")
        return ch

    def GetUserCharactersInWorld(self, request, context):
        self.p.enter("character", "GetUserCharactersInWorld", context)
        found = [
            c
            for c in self.p.characters.values()
            if c.world_id == request.world_id and (c.real_user_id == request.user_id if request.user_id else c.is_ai)
        ]
        return character_pb2.CharacterList(characters=found)


class _Media(media_pb2_grpc.MediaServiceServicer):
    def __init__(self, p: TestPlatform) -> None:
        self.p = p

    def GetPresignedUploadURL(self, request, context):
        self.p.enter("media", "GetPresignedUploadURL", context)
        if not request.world_id or not request.filename or request.size <= 0:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "world_id, filename and a positive size are required")
        if not request.content_type.startswith("image/"):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"content type {request.content_type!r} is not an image")
        if request.character_id and request.character_id not in self.p.characters:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"unknown character {request.character_id}")
        media_id = f"med-{uuid.uuid4().hex[:12]}"
        key = f"{request.world_id}/{request.character_id or 'world'}/{media_id}/{request.filename}"
        lifetime = 600
        with self.p._lock:
            stale = self.p.expire_next_urls > 0
            if stale:
                self.p.expire_next_urls -= 1
        if stale:
            lifetime = 1
        url = self.p._signer.generate_presigned_url(
            "put_object",
            Params={"Bucket": self.p.bucket, "Key": key, "ContentType": request.content_type},
            ExpiresIn=lifetime,
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
                "confirmed": False,
            }
        return media_pb2.GetPresignedUploadURLResponse(media_id=media_id, upload_url=url, expires_at=expires_at)

    def ConfirmUpload(self, request, context):
        self.p.enter("media", "ConfirmUpload", context)
        media = self.p.media.get(request.media_id)
        if media is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no media {request.media_id}")
        if request.character_id != media["character_id"]:
            context.abort(grpc.StatusCode.PERMISSION_DENIED, f"media {request.media_id} belongs to another character")
        with self.p._lock:
            if self.p.confirm_false_next > 0:
                self.p.confirm_false_next -= 1
                return media_pb2.ConfirmUploadResponse(success=False)
        try:
            head = self.p.s3.head_object(Bucket=self.p.bucket, Key=media["key"])
        except Exception:
            return media_pb2.ConfirmUploadResponse(success=False)
        if head["ContentLength"] != media["size"] or head.get("ContentType") != media["content_type"]:
            return media_pb2.ConfirmUploadResponse(success=False)
        media["confirmed"] = True
        url = f"{self.p.s3_url}/{self.p.bucket}/{media['key']}"
        return media_pb2.ConfirmUploadResponse(
            success=True, variants=[media_pb2.MediaVariant(name="original", url=url)]
        )


class _Posts(post_pb2_grpc.PostServiceServicer):
    def __init__(self, p: TestPlatform) -> None:
        self.p = p

    def CreateAIPost(self, request, context):
        self.p.enter("post", "CreateAIPost", context)
        ch = self.p.characters.get(request.character_id)
        if ch is None or ch.world_id != request.world_id or not ch.is_ai:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"no AI character {request.character_id} in this world")
        media = self.p.media.get(request.media_id)
        if media is None or not media["confirmed"] or media["character_id"] != request.character_id:
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"media {request.media_id} is not a confirmed upload of this character",
            )
        if not request.caption or len(request.caption) > 2000:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "caption must be 1..2000 characters")
        post = {
            "post_id": f"pst-{uuid.uuid4().hex[:10]}",
            "character_id": request.character_id,
            "media_id": request.media_id,
            "world_id": request.world_id,
            "caption": request.caption,
            "tags": list(request.tags),
        }
        with self.p._lock:
            self.p.posts.append(post)
        return post_pb2.CreatePostResponse(post_id=post["post_id"], created_at=_now())
