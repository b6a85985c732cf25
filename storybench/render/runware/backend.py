"""The Runware backend: one ``imageInference`` task per panel over the SDK's websocket.

See :mod:`storybench.render.runware` for sizes, errors and where the key comes from.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import io
import logging
import os
import threading
import time
from collections.abc import Sequence
from typing import Any

import httpx
from PIL import Image, ImageOps, UnidentifiedImageError

from storybench.config import env_settings
from storybench.exceptions import (
    BackendUnavailable,
    Cancelled,
    ConfigError,
    MissingDependencyError,
    PermanentBackendError,
    TransientBackendError,
)
from storybench.http_errors import error_for_transport
from storybench.render.base import ImageBackend
from storybench.render.download import download_image
from storybench.render.runware.errors import (
    BACKEND,
    ENV_API_KEY,
    ENV_URL,
    REDACTED_LOGGERS,
    RedactKey,
    auth_errors,
    convert_error,
)
from storybench.render.runware.sizes import runware_size, validate_air
from storybench.render.spec import RenderResult, RenderSpec

__all__ = ["RunwareBackend", "image_metrics"]

log = logging.getLogger(__name__)


def image_metrics(image: Any, costs: list[float]) -> dict[str, Any]:
    """The catalog metrics of one ``IImage`` answer; its cost is added to ``costs`` (USD),
    and ``cost`` is their sum (image + prompt enhancement)."""
    metrics: dict[str, Any] = {"runware_task_uuid": image.taskUUID, "runware_image_uuid": image.imageUUID}
    if getattr(image, "seed", None) is not None:
        metrics["runware_seed"] = image.seed
    if getattr(image, "NSFWContent", None) is not None:
        metrics["nsfw"] = image.NSFWContent
    if image.cost is not None:
        metrics["image_cost"] = image.cost
        costs.append(image.cost)
    if costs:
        metrics["cost"] = round(sum(costs), 8)
    return metrics


class RunwareBackend(ImageBackend):
    """Renders panels on Runware through the ``runware`` SDK.

    Args:
        model: model AIR id (``runware:101@1`` FLUX.1 dev; ``civitai:<model>@<version>``).
            ``spec.params["model"]`` overrides it per panel (validated the same way).
        enhance_prompt: rewrite each prompt with Runware's ``promptEnhance`` first.
        enhance_max_length: longest enhanced prompt, characters (12..400).
        steps, cfg_scale, scheduler: sampler settings (``None``: the model's default);
            ``spec.params`` keys ``steps``, ``cfg``, ``scheduler`` override them.
        output_type: ``"base64Data"`` (image inline) or ``"URL"`` (downloaded here).
        include_cost: ask Runware for each task's cost (USD) → ``metrics["cost"]``.
        fit_to_spec: cover-resize the image to the spec's exact size (see module docstring).
        url: websocket URL; default ``$STORYBENCH_RUNWARE_URL`` or the SDK's production URL.
        timeout: longest wait for one panel, seconds.
        concurrency: the engine's default number of renders at once.
        transport: httpx transport for URL downloads (tests).
        reference_images: 0 (default): text to image only; N (1..8): the engine renders
            character sheets first and each panel sends up to N of them (its characters,
            speakers first) as ``referenceImages``, for models that take references.

    Raises:
        ConfigError: ``RUNWARE_API_KEY`` missing, or a bad option (model id, output type).
        MissingDependencyError: the ``runware`` package is not installed.
    """

    name = "runware"
    version = "1"
    default_concurrency = 4

    def __init__(
        self,
        *,
        model: str = "runware:101@1",
        enhance_prompt: bool = False,
        enhance_max_length: int = 300,
        steps: int | None = None,
        cfg_scale: float | None = None,
        scheduler: str | None = None,
        output_type: str = "base64Data",
        include_cost: bool = True,
        fit_to_spec: bool = True,
        url: str | None = None,
        timeout: float = 300.0,
        concurrency: int = 4,
        transport: httpx.BaseTransport | None = None,
        reference_images: int = 0,
    ) -> None:
        try:
            import runware  # noqa: F401  # lazy: the optional extra storybench[runware]
        except ImportError as exc:
            raise MissingDependencyError("the Runware backend", "runware", "runware") from exc
        self.model = validate_air(model)
        if output_type not in ("base64Data", "URL"):
            raise ConfigError(f"output_type: {output_type!r} is not 'base64Data' or 'URL'")
        if not 12 <= enhance_max_length <= 400:
            raise ConfigError(f"enhance_max_length: {enhance_max_length} is outside 12..400")
        api_key = os.environ.get(ENV_API_KEY, "").strip()
        if not api_key:
            raise ConfigError(f"Runware API key missing: set the environment variable {ENV_API_KEY}")
        self._api_key = api_key
        self.url = url or env_settings().runware_url.strip() or None
        self.enhance_prompt = enhance_prompt
        self.enhance_max_length = enhance_max_length
        self.steps, self.cfg_scale, self.scheduler = steps, cfg_scale, scheduler
        self.output_type = output_type
        self.include_cost = include_cost
        self.fit_to_spec = fit_to_spec
        self.timeout = timeout
        self.default_concurrency = concurrency
        self._download = httpx.Client(transport=transport, timeout=60.0, follow_redirects=True)
        self._redact = RedactKey(api_key)
        for name in REDACTED_LOGGERS:
            logging.getLogger(name).addFilter(self._redact)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="storybench-runware", daemon=True)
        self._thread.start()
        self._client: Any = None
        self._connect_lock: asyncio.Lock | None = None
        self._lock = threading.Lock()
        self._pending: set[concurrent.futures.Future] = set()
        self._generation = 0
        self._closed = False
        if not 0 <= reference_images <= 8:
            raise ConfigError(f"reference_images: {reference_images} is outside 0..8")
        self.reference_images = reference_images

    def __repr__(self) -> str:  # never shows the key
        return f"RunwareBackend(model={self.model!r}, url={self.url!r})"

    @property
    def supports_reference_images(self) -> bool:
        """True with ``reference_images`` > 0: the engine renders character sheets first and each
        panel sends the sheets of its characters (speakers first) as ``referenceImages``."""
        return self.reference_images > 0

    @property
    def max_reference_images(self) -> int:
        """``reference_images`` (at least 1): how many sheets a panel sends."""
        return max(1, self.reference_images)

    # ------------------------------------------------------------------ identity
    def cache_identity(self, spec: RenderSpec) -> str:
        """Version, model, sampler settings, prompt enhancement and size handling."""
        model, steps, cfg, scheduler = self._settings(spec)
        return (
            f"{self.version}:{model}:steps={steps}:cfg={cfg}:scheduler={scheduler}:"
            f"enhance={self.enhance_prompt}/{self.enhance_max_length}:fit={self.fit_to_spec}"
        )

    def _settings(self, spec: RenderSpec) -> tuple[str, int | None, float | None, str | None]:
        p = spec.params
        model = validate_air(p["model"], where="params.model") if p.get("model") else self.model
        steps = p.get("steps", self.steps)
        cfg = p.get("cfg", self.cfg_scale)
        scheduler = p.get("scheduler", self.scheduler)
        return model, (int(steps) if steps is not None else None), (float(cfg) if cfg is not None else None), scheduler

    # ------------------------------------------------------------------ async side
    async def _connected(self) -> Any:
        if self._connect_lock is None:
            self._connect_lock = asyncio.Lock()
        async with self._connect_lock:
            if self._client is not None and self._client.connected():
                return self._client
            from runware import Runware  # lazy: optional extra storybench[runware]

            kwargs: dict[str, Any] = {"api_key": self._api_key, "log_level": logging.CRITICAL}
            if self.url:
                kwargs["url"] = self.url
            client = Runware(**kwargs)
            refusals: list[str] = []  # the server's answers to our authentication task
            client.addListener(lis=lambda m: refusals.extend(auth_errors(m)), check=auth_errors)
            try:
                await asyncio.wait_for(client.connect(), timeout=min(self.timeout, 30.0))
            except (TimeoutError, OSError) as exc:
                raise error_for_transport(
                    BACKEND,
                    exc,
                    url=self.url,
                    hint=f"network, or {ENV_URL}",
                    detail="cannot connect to the Runware websocket",
                    connecting=True,
                ) from exc
            if refusals or not client.connected():
                await self._quietly_disconnect(client)
                if refusals:
                    raise PermanentBackendError(
                        BACKEND,
                        f"the API key was refused: {self._scrub(refusals[0])}",
                        url=self.url,
                        hint=f"check {ENV_API_KEY}",
                    )
                raise BackendUnavailable(BACKEND, "the Runware websocket closed right after connecting", url=self.url)
            self._client = client
            return client

    @staticmethod
    async def _quietly_disconnect(client: Any) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.disconnect(), timeout=5)

    async def _enhance(self, client: Any, prompt: str) -> tuple[str, float | None]:
        from runware import IPromptEnhance  # lazy: optional extra storybench[runware]

        results = await client.promptEnhance(
            IPromptEnhance(
                prompt=prompt, promptVersions=1, promptMaxLength=self.enhance_max_length, includeCost=self.include_cost
            )
        )
        if not results or not getattr(results[0], "text", None):
            raise TransientBackendError(BACKEND, "promptEnhance returned no text")
        return str(results[0].text), getattr(results[0], "cost", None)

    async def _render(self, spec: RenderSpec) -> tuple[bytes, dict[str, Any]]:
        from runware import IImageInference  # lazy: optional extra storybench[runware]

        client = await self._connected()
        model, steps, cfg, scheduler = self._settings(spec)
        width, height = runware_size(spec.width, spec.height)
        metrics: dict[str, Any] = {"model": model, "render_width": width, "render_height": height}
        prompt = spec.prompt
        costs = []
        if self.enhance_prompt:
            prompt, enhance_cost = await self._enhance(client, spec.prompt)
            metrics["enhanced_prompt"] = prompt
            if enhance_cost is not None:
                metrics["enhance_cost"] = enhance_cost
                costs.append(enhance_cost)
        request = IImageInference(
            model=model,
            positivePrompt=prompt,
            negativePrompt=spec.negative_prompt or None,
            numberResults=1,
            width=width,
            height=height,
            seed=spec.seed,
            steps=steps,
            CFGScale=cfg,
            scheduler=scheduler,
            outputType=self.output_type,
            outputFormat="PNG",
            includeCost=self.include_cost or None,
            # local files: the SDK sends them base64-encoded (Runware's referenceImages)
            referenceImages=list(spec.reference_images) or None,
        )
        started = time.monotonic()
        images = await client.imageInference(requestImage=request)
        metrics["execution_seconds"] = round(time.monotonic() - started, 4)
        if not images:
            raise TransientBackendError(BACKEND, f"imageInference returned no image for panel {spec.panel_id or '?'}")
        image = images[0]
        metrics.update(image_metrics(image, costs))
        return await self._image_bytes(image), metrics

    async def _image_bytes(self, image: Any) -> bytes:
        """The bytes of one ``IImage`` answer: inline base64, a data URI, or downloaded from its URL."""
        if image.imageBase64Data:
            return base64.b64decode(image.imageBase64Data)
        if image.imageDataURI:
            return base64.b64decode(image.imageDataURI.split(",", 1)[-1])
        if image.imageURL:
            return await asyncio.get_running_loop().run_in_executor(None, self._fetch, image.imageURL)
        raise TransientBackendError(BACKEND, f"image {image.imageUUID} has neither data nor URL")

    def _fetch(self, url: str) -> bytes:
        return download_image(self._download, url, backend=BACKEND)

    # ------------------------------------------------------------------ sync side
    def _scrub(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text

    def _convert(self, exc: BaseException, where: str) -> BaseException:
        return convert_error(exc, where, timeout=self.timeout, url=self.url, api_key=self._api_key)

    def preflight(self, specs: Sequence[RenderSpec]) -> dict[str, Any]:
        """Connect and authenticate; check every spec's model id. Returns
        ``{"models": [...], "sizes": {"WxH": "W'xH'"}}`` (requested → rendered sizes).

        Raises:
            PermanentBackendError: key refused. BackendUnavailable: no connection.
            ConfigError: a bad model id in a spec's params.
        """
        models = sorted({self._settings(s)[0] for s in specs} | {self.model})
        self._call(self._connected(), "preflight")
        sizes = {f"{s.width}x{s.height}": "{}x{}".format(*runware_size(s.width, s.height)) for s in specs}
        return {"models": models, "sizes": sizes}

    def _call(self, coro: Any, where: str) -> Any:
        if self._closed:
            coro.close()
            raise PermanentBackendError(BACKEND, "the backend is closed")
        with self._lock:
            generation = self._generation
            future = asyncio.run_coroutine_threadsafe(coro, self._loop)
            self._pending.add(future)
        try:
            return future.result(timeout=self.timeout)
        except concurrent.futures.CancelledError as exc:
            raise Cancelled("Runware render cancelled") from exc
        except (PermanentBackendError, TransientBackendError, ConfigError):
            raise
        except BaseException as exc:
            if self._generation != generation:
                raise Cancelled("Runware render cancelled") from exc
            if isinstance(exc, concurrent.futures.TimeoutError):
                future.cancel()
            raise self._convert(exc, where) from exc
        finally:
            with self._lock:
                self._pending.discard(future)

    def render(self, spec: RenderSpec) -> RenderResult:
        """Render one panel (see the module docstring for sizes and errors).

        Metrics: ``model``, ``render_width``/``render_height`` (what Runware drew),
        ``execution_seconds``, ``runware_task_uuid``, ``runware_image_uuid``, ``cost``
        (USD: image + enhancement, with ``include_cost``), ``image_cost``,
        ``enhanced_prompt`` and ``enhance_cost`` (with ``enhance_prompt``).
        """
        self._settings(spec)  # validate params before sending anything
        data, metrics = self._call(self._render(spec), f"panel {spec.panel_id or '?'}")
        png, width, height = self._to_png(data, spec)
        return RenderResult(image=png, width=width, height=height, metrics=metrics)

    def _to_png(self, data: bytes, spec: RenderSpec) -> tuple[bytes, int, int]:
        try:
            with Image.open(io.BytesIO(data)) as decoded:
                decoded.load()
                img: Image.Image = decoded
                if self.fit_to_spec and img.size != (spec.width, spec.height):
                    img = ImageOps.fit(img, (spec.width, spec.height), method=Image.Resampling.LANCZOS)
                elif decoded.format == "PNG":
                    return data, img.width, img.height
                out = io.BytesIO()
                img.save(out, format="PNG")
                return out.getvalue(), img.width, img.height
        except (UnidentifiedImageError, OSError) as exc:
            raise TransientBackendError(
                BACKEND, f"panel {spec.panel_id or '?'}: image cannot be decoded ({exc})"
            ) from exc

    def cancel(self) -> None:
        """Cancel every render in progress (their ``render`` calls raise :class:`Cancelled`);
        Runware has no cancel operation, so tasks already sent still finish (and are billed)."""
        with self._lock:
            self._generation += 1
            pending = list(self._pending)
        for future in pending:
            future.cancel()

    def close(self) -> None:
        """Disconnect, stop the event-loop thread and remove the log redaction."""
        if self._closed:
            return
        self._closed = True
        if self._client is not None:
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._quietly_disconnect(self._client), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        if not self._thread.is_alive():
            self._loop.close()
        self._download.close()
        for name in REDACTED_LOGGERS:
            logging.getLogger(name).removeFilter(self._redact)
