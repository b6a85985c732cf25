"""One attempt at one prompt on one server: submit, wait, collect (httpx's ``_send_single_request``).

:class:`Attempts` holds what every attempt of a backend shares (its options, its cancel
event, the reference uploads and the prompts in flight) and runs the three steps:

1. :meth:`Attempts.submit`: open the server's websocket, keep VRAM (between jobs), upload
   the reference image, fill the template, point its output node at ComfyUI's temporary
   folder (:func:`to_temporary_output`, unless ``keep_outputs``), register a watch and
   ``POST /prompt`` with this client's id;
2. :meth:`Attempts.finish`: wait for the prompt (:func:`~.prompt.wait_for_prompt`), take its
   image and timings (:func:`~.prompt.collect_prompt`);
3. :meth:`Attempts.settle`: forget the watch (unless the recovery loop keeps it for a server
   that went down).

A failed prompt becomes the backend's typed error (:meth:`Attempts.fail`); an out-of-memory
failure frees the server's memory once per wave (:meth:`~.memory.VramGuard.free_after_oom`).
What to do about an unreachable server is the recovery loop's business (:mod:`.recovery`).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from storybench.exceptions import BackendError, Cancelled, OutOfMemoryError, TransientBackendError
from storybench.render.comfyui.client import PromptWatch
from storybench.render.comfyui.errors import BACKEND, describe_node_errors, execution_failed
from storybench.render.comfyui.options import ComfyUIOptions
from storybench.render.comfyui.pool import ComfyServer
from storybench.render.comfyui.prompt import collect_prompt, wait_for_prompt
from storybench.render.comfyui.uploads import UploadCache
from storybench.render.comfyui.workflow import WorkflowTemplate
from storybench.render.spec import RenderSpec

__all__ = ["Attempts", "InFlight", "PanelRequest", "to_temporary_output"]

log = logging.getLogger("storybench.comfyui")

#: ComfyUI's node that saves into ``output/`` and the one that saves into ``temp/``
#: (``nodes.py``: ``PreviewImage(SaveImage)`` with ``type = "temp"``; ComfyUI empties
#: ``temp/`` at every start, ``main.py: cleanup_temp``).
SAVE_NODE, PREVIEW_NODE = "SaveImage", "PreviewImage"


def to_temporary_output(workflow: dict[str, Any], output_node: str) -> dict[str, Any]:
    """``workflow`` with its ``SaveImage`` output node made a ``PreviewImage``, so the image
    goes to ComfyUI's ``temp/`` folder (``/view?type=temp``) and nothing piles up in
    ``output/``. The inputs stay as they are: PreviewImage does not declare
    ``filename_prefix``, so ComfyUI ignores it when running the node, but it still counts in
    ComfyUI's cache key, so each panel keeps its own cache entry as with SaveImage. Other
    output node classes are left alone; the given dict is not changed."""
    node = workflow.get(output_node)
    if not isinstance(node, Mapping) or node.get("class_type") != SAVE_NODE:
        return workflow
    return {**workflow, output_node: {**node, "class_type": PREVIEW_NODE}}


@dataclass
class PanelRequest:
    """One render's prompt, carried across attempts and servers.

    Attributes:
        spec: what to render.
        template: the workflow template that renders it.
        use_prompt_template: apply the template's prompt wrapper.
        progress: sampler-step callback ``(value, max)``, or ``None``.
        submissions: ``POST /prompt`` calls made for it.
        outages: times its server stopped answering under it.
        reference: the uploaded reference image's name on the last server, or ``None``.
        memory: the VRAM readings of the last submission (``{}`` when none were taken).
    """

    spec: RenderSpec
    template: WorkflowTemplate
    use_prompt_template: bool = True
    progress: Callable[[int, int], None] | None = None
    submissions: int = 0
    outages: int = 0
    reference: str | None = None
    memory: dict[str, Any] = field(default_factory=dict)


class InFlight:
    """The prompts of a backend that a server has or may have (thread-safe): what
    :meth:`~storybench.render.comfyui.backend.ComfyUIBackend.cancel` deletes and interrupts."""

    def __init__(self) -> None:
        self._prompts: dict[str, tuple[ComfyServer, PromptWatch]] = {}
        self._lock = threading.Lock()

    def track(self, server: ComfyServer, watch: PromptWatch) -> None:
        """Note ``watch``'s prompt as being on ``server``."""
        with self._lock:
            self._prompts[watch.prompt_id] = (server, watch)

    def untrack(self, watch: PromptWatch) -> None:
        """Forget ``watch``'s prompt."""
        with self._lock:
            self._prompts.pop(watch.prompt_id, None)

    def snapshot(self) -> list[tuple[ComfyServer, PromptWatch]]:
        """The prompts now, as ``(server, watch)`` pairs."""
        with self._lock:
            return list(self._prompts.values())


class Attempts:
    """Single attempts of the renders of one backend (see the module docstring).

    Args:
        options: the backend's options (timeouts, ``keep_outputs``).
        cancel: set by the backend's ``cancel()``.
        uploads: reference images already on each server.
        in_flight: the prompts servers have.
    """

    def __init__(
        self, options: ComfyUIOptions, cancel: threading.Event, uploads: UploadCache, in_flight: InFlight
    ) -> None:
        self.options = options
        self.cancel = cancel
        self.uploads = uploads
        self.in_flight = in_flight

    def check_cancel(self) -> None:
        """Raise :class:`Cancelled` once the backend was cancelled."""
        if self.cancel.is_set():
            raise Cancelled("ComfyUI render cancelled")

    def submit(self, server: ComfyServer, request: PanelRequest) -> PromptWatch:
        """Fill ``request``'s template for ``server`` and queue it there.

        Returns:
            The prompt's watch (registered before ``POST /prompt``, so no message is missed).

        Raises:
            Cancelled: the backend was cancelled.
            WorkflowError: the server rejected the workflow.
            PermanentBackendError: the reference image cannot be read.
            TransientBackendError, BackendUnavailable: network trouble, 5xx.
        """
        server.client.start()
        request.memory = server.memory.between_jobs()
        template, spec = request.template, request.spec
        names: list[str] = []
        if template.supports_reference:  # the sheets of the panel's characters, speakers first
            refs = spec.reference_images[: len(template.reference_slots)]
            names = [self.uploads.name_for(server.client, path) for path in refs]
            request.reference = names[0] if names else None
        workflow = template.fill(spec, reference_images=names, use_prompt_template=request.use_prompt_template)
        if not self.options.keep_outputs:
            workflow = to_temporary_output(workflow, template.output_node)
        watch = server.client.watch(str(uuid.uuid4()), on_progress=request.progress)
        self.in_flight.track(server, watch)
        try:
            self.check_cancel()
            answer = server.client.submit(workflow, watch.prompt_id)
        except BaseException:
            self.settle(server, watch, keep=False)
            raise
        request.submissions += 1
        if answer.get("node_errors"):
            log.warning(
                "prompt %s queued, but some outputs failed validation: %s",
                answer.get("prompt_id"),
                "; ".join(describe_node_errors(answer["node_errors"])),
            )
        if answer.get("prompt_id") and answer["prompt_id"] != watch.prompt_id:
            self.in_flight.untrack(watch)
            server.client.rekey(watch, answer["prompt_id"])
            self.in_flight.track(server, watch)
        return watch

    def finish(
        self, server: ComfyServer, request: PanelRequest, watch: PromptWatch, *, recovering: bool = False
    ) -> tuple[bytes, dict[str, Any]]:
        """Wait for ``watch``'s prompt on ``server`` and download its image.

        Args:
            server: where the prompt is.
            request: the render it belongs to.
            watch: the prompt's watch.
            recovering: the server was just unreachable (poll and check the prompt at once).

        Returns:
            ``(image bytes, metrics)`` as :func:`~.prompt.collect_prompt` gives them.

        Raises:
            PromptLost: the server forgot the prompt (restarted).
            Cancelled, WorkflowError, OutOfMemoryError, PermanentBackendError,
            TransientBackendError, BackendUnavailable: see the backend's ``render``.
        """
        opts = self.options
        entry = wait_for_prompt(
            server.client,
            watch,
            cancel=self.cancel,
            render_timeout=opts.render_timeout,
            poll_interval=opts.poll_interval,
            recovering=recovering,
        )
        return collect_prompt(
            server.client,
            watch,
            entry,
            request.template.output_node,
            request.template.name,
            history_timeout=opts.history_timeout,
            fail=lambda error: self.fail(server, watch, error),
        )

    def still_there(self, server: ComfyServer, watch: PromptWatch) -> bool:
        """Whether a prompt parked while ``server`` was down survived the outage (then it is
        tracked again); a forgotten one is dropped.

        Raises:
            BackendUnavailable: the server stopped answering again.
        """
        self.in_flight.track(server, watch)
        if server.client.knows(watch.prompt_id):
            return True
        self.settle(server, watch, keep=False)
        return False

    def settle(self, server: ComfyServer, watch: PromptWatch, *, keep: bool) -> None:
        """Forget ``watch`` for cancelling; ``keep``: the client still listens for it (its
        server went down with it queued)."""
        self.in_flight.untrack(watch)
        if not keep:
            server.client.unwatch(watch)

    def fail(self, server: ComfyServer, watch: PromptWatch, error: Mapping[str, Any]) -> BackendError | Cancelled:
        """The exception for a prompt that failed on ``server`` with ``error`` (an
        ``execution_error`` or ``execution_interrupted`` message's data, ``kind`` added)."""
        if error.get("kind") == "execution_interrupted" or watch.interrupted is not None:
            if self.cancel.is_set():
                return Cancelled(f"ComfyUI prompt {watch.prompt_id} interrupted")
            return TransientBackendError(
                BACKEND, f"prompt {watch.prompt_id} was interrupted on the server (by another client?)", url=server.url
            )
        exc = execution_failed(error, server.url)
        if isinstance(exc, OutOfMemoryError):
            server.memory.free_after_oom(watch.submitted_at)
        return exc

    def delete_history(self, server: ComfyServer, prompt_id: str | None = None) -> None:
        """``POST /history {"delete": [...]}`` for a finished prompt whose image is fetched.
        The ids deleted last time are sent once more (deleting is idempotent): a server
        that writes an entry a moment after announcing the prompt finished keeps none."""
        with server.lock:
            ids = [*server.deleted_last, *([prompt_id] if prompt_id else [])]
            server.deleted_last = [prompt_id] if prompt_id else []
        if not ids:
            return
        try:
            server.client.delete_history(ids)
        except BackendError as exc:
            log.debug("POST /history delete on %s failed: %s", server.url, exc)
