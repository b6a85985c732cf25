"""Runware image backend (hosted inference over the ``runware`` SDK's websocket).

:class:`RunwareBackend` renders each panel with one ``imageInference`` task on a
configurable model given by its AIR id (``runware:101@1`` FLUX.1 dev, CivitAI models
as ``civitai:<model id>@<version id>``), optionally after an automatic
``promptEnhance`` (off by default). The SDK is async; the backend runs it on one
event loop in a dedicated thread, so the synchronous :meth:`RunwareBackend.render`
can be called from many threads at once (the SDK multiplexes tasks over one socket).

Sizes: Runware wants width and height as multiples of 64 within 128..2048 pixels.
A spec's size is scaled (aspect kept) so its longer side fits 2048 and its shorter
side reaches 128, then each side is rounded to the nearest multiple of 64
(:func:`runware_size`); the image is then cover-resized back to the spec's exact
size (``fit_to_spec=True``, default) or returned as rendered.

Errors: a Runware error whose code says the request is wrong (``invalid...``,
``missing...``, ``unsupported...``, ``...NotFound``, credits) →
:class:`PermanentBackendError`; a refused API key → :class:`PermanentBackendError`
"check RUNWARE_API_KEY"; connection problems → :class:`BackendUnavailable`; other
errors and timeouts → :class:`TransientBackendError`.

The API key comes from ``RUNWARE_API_KEY`` only; the websocket URL from the ``url``
option or ``STORYBENCH_RUNWARE_URL`` (default: the SDK's production URL). Note: the
SDK sets the ``asyncio`` and ``websockets`` loggers to CRITICAL when created; the
backend also redacts the key from any record of the ``runware`` and ``websockets`` loggers.
"""

from storybench.render.runware.backend import RunwareBackend
from storybench.render.runware.errors import ENV_API_KEY, ENV_URL
from storybench.render.runware.sizes import MAX_SIDE, MIN_SIDE, runware_size, validate_air

__all__ = ["ENV_API_KEY", "ENV_URL", "MAX_SIDE", "MIN_SIDE", "RunwareBackend", "runware_size", "validate_air"]
