"""The ComfyUI backend's options as one validated object (httpx's ``_config.py`` idea).

:class:`ComfyUIOptions` holds the keyword arguments of
:class:`~storybench.render.comfyui.backend.ComfyUIBackend` (the same names, which are
also the keys of ``-p backend_options '{...}'`` and of a scheduled job's
``backend_options``). Values are checked once, here, with pydantic: a wrong type or a
value out of range is a :class:`~storybench.exceptions.ConfigError` whose one sentence
names the option, the value and what is allowed (``backend option queue_depth: 0; must
be at least 1``). :meth:`ComfyUIOptions.check` does the same for a plain mapping of
JSON values, so the CLI can refuse ``-p backend_options`` before any kernel starts.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from storybench.config import env_settings
from storybench.exceptions import ConfigError
from storybench.messages import validation_sentence
from storybench.render.comfyui.memory import GIB
from storybench.render.comfyui.pool import parse_urls
from storybench.render.comfyui.workflow import WorkflowTemplate

__all__ = ["DEFAULT_WORKFLOW", "OPTION_NAMES", "ComfyUIOptions", "option_error"]

DEFAULT_WORKFLOW = "sd15_txt2img"


class ComfyUIOptions(BaseModel):
    """Every option of the ComfyUI backend, validated (see the backend's docstring for each).

    Attributes:
        url: one URL, a comma-separated list or a list; ``None``: ``$STORYBENCH_COMFYUI_URL``.
        workflow, slots, sheet_workflow: the templates.
        queue_depth: prompts kept queued per server, >= 1.
        vram_threshold_bytes: free VRAM wanted before rendering, bytes, >= 0.
        ollama_host: Ollama base URL whose models are unloaded when VRAM is short.
        http, transport, ws_connect: injected HTTP client, transport, websocket factory.
        timeout, render_timeout, history_timeout, poll_interval, vram_check_interval,
            probe_interval: seconds (timeouts and intervals > 0, history wait >= 0).
        use_websocket: ``False`` polls ``/history`` only.
        on_progress: callback ``(panel_id, value, max)`` for sampler steps.
        outage_seconds: outage budget, seconds, >= 0; ``None``: ``$STORYBENCH_OUTAGE_SECONDS``.
        delete_history: delete each finished prompt's ``/history`` entry.
        keep_outputs: keep the images in ComfyUI's ``output/`` folder (``SaveImage``);
            by default the output node is a ``PreviewImage``, whose files go to ComfyUI's
            ``temp/`` folder, which ComfyUI empties at every start.
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, frozen=True, strict=False)

    url: str | list[str] | None = None
    workflow: str | os.PathLike[str] | WorkflowTemplate = DEFAULT_WORKFLOW
    slots: dict[str, Any] | None = None
    sheet_workflow: str | os.PathLike[str] | WorkflowTemplate | None = None
    queue_depth: int = Field(2, ge=1, le=256)
    vram_threshold_bytes: int = Field(2 * GIB, ge=0)
    ollama_host: str | None = None
    http: httpx.Client | None = None
    transport: httpx.BaseTransport | None = None
    timeout: float = Field(30.0, gt=0)
    render_timeout: float = Field(1800.0, gt=0)
    history_timeout: float = Field(30.0, ge=0)
    poll_interval: float = Field(0.5, gt=0)
    vram_check_interval: float = Field(10.0, ge=0)
    use_websocket: bool = True
    on_progress: Callable[[str, int, int], None] | None = None
    ws_connect: Callable[[str], Any] | None = None
    outage_seconds: float | None = Field(None, ge=0)
    probe_interval: float = Field(1.0, gt=0)
    delete_history: bool = True
    keep_outputs: bool = False

    @classmethod
    def of(cls, **options: Any) -> ComfyUIOptions:
        """Validated options from keyword arguments.

        Raises:
            ConfigError: an unknown name, a wrong type or a value out of range (one sentence).
        """
        try:
            return cls(**options)
        except ValidationError as exc:
            raise option_error(exc) from None

    @classmethod
    def check(cls, options: Mapping[str, Any]) -> None:
        """Check JSON-like ``options`` (as given with ``-p backend_options``) without
        building anything: names, types and ranges, and that ``url`` holds a URL.

        Raises:
            ConfigError: as :meth:`of`.
        """
        if not isinstance(options, Mapping):
            raise ConfigError(f"backend_options: {options!r}; must be a JSON object of option names and values")
        opts = cls.of(**dict(options))
        if opts.url is not None:
            opts.server_urls()

    def server_urls(self) -> list[str]:
        """The servers' base URLs (``url``, else ``$STORYBENCH_COMFYUI_URL``), duplicates dropped.

        Raises:
            ConfigError: no URL given.
        """
        value: str | Sequence[str] = self.url or env_settings().comfyui_url
        try:
            return parse_urls(value)
        except ValueError as exc:
            raise ConfigError(f"backend option url: {self.url!r}: {exc}") from exc

    def outage_budget(self) -> float:
        """``outage_seconds``, else ``$STORYBENCH_OUTAGE_SECONDS`` (seconds)."""
        return float(env_settings().outage_seconds if self.outage_seconds is None else self.outage_seconds)


#: The option names (also the keys of ``-p backend_options``).
OPTION_NAMES: tuple[str, ...] = tuple(ComfyUIOptions.model_fields)


def option_error(exc: ValidationError) -> ConfigError:
    """The first problem of a :class:`ComfyUIOptions` validation as one sentence
    (``backend option timeout: 'x'; must be a number``)."""
    error = exc.errors(include_url=False)[0]
    if error["type"] == "extra_forbidden":
        name = str(error["loc"][0]) if error["loc"] else "?"
        return ConfigError(f"unknown backend option {name!r}; the ComfyUI backend knows: {', '.join(OPTION_NAMES)}")
    return ConfigError(validation_sentence(exc, "backend option"))
