"""Settings: render settings (data passed to a run) and environment settings.

:class:`RenderSettings` is what a batch render is configured with (page size,
margins, concurrency...); it is plain data that goes into notebook parameters.
:class:`EnvSettings` reads server URLs and defaults from ``STORYBENCH_*``
environment variables. Secrets (API keys) are never fields of either: each
backend reads its own key from the environment when it needs it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "DEFAULT_COMFYUI_URL",
    "DEFAULT_EXPORTS",
    "EXPORT_KINDS",
    "EnvSettings",
    "ExportKind",
    "RenderSettings",
    "env_settings",
]

#: Where ComfyUI listens by default (its ``main.py`` binds 127.0.0.1:8188).
DEFAULT_COMFYUI_URL = "http://127.0.0.1:8188"

#: What a batch render can export (``RenderSettings.exports``).
ExportKind = Literal["pdf", "cbz", "epub", "webtoon"]
EXPORT_KINDS: tuple[str, ...] = ("pdf", "cbz", "epub", "webtoon")
#: What a batch render exports unless told otherwise.
DEFAULT_EXPORTS: tuple[ExportKind, ...] = ("pdf", "cbz")


class RenderSettings(BaseModel):
    """How a plan is rendered and composed.

    Attributes:
        page_width, page_height: page size in pixels; default a US comic page
            (6.625 x 10.25 in) at ``dpi``.
        dpi: print resolution, dots per inch (written into PNG and PDF).
        margin: blank border around the panels, pixels.
        gutter: space between panels, pixels.
        border: panel border width, pixels.
        min_text_px: minimum readable lettering size, pixels on a 300-dpi page 1,988
            pixels wide (24 px ≈ 5.8 pt); scaled with ``page_width``. Text that cannot
            fit at this size is left off its panel and reported as a lettering warning.
        panel_max_side: longer side of each rendered panel image, pixels (images are
            cover-cropped into their page rectangle afterwards).
        reading_direction: ``"auto"`` (from the style), ``"ltr"`` or ``"rtl"``.
        concurrency: renders run at once (``0``: the backend's default).
        retries: attempts per job for transient errors (first try included).
        backoff_seconds: first retry delay; doubles each retry.
        only_pages: page numbers to render (empty: all).
        force: ignore the cache and render every panel again.
        render_params: extra backend parameters (steps, cfg, workflow...) for every panel.
        exports: what to export once the pages are there, any of ``"pdf"``, ``"cbz"``,
            ``"epub"`` (fixed-layout EPUB 3), ``"webtoon"`` (vertical strip and slices);
            default PDF and CBZ.
        cover: compose a cover page (title, lettering, the characters' sheets or the first
            panel) and put it first in every export.
        author: the author written into the PDF, CBZ and EPUB metadata ("" for none).
        pdf_quality: 100 keeps the PDF's pages lossless; 1..99 stores them as JPEG of
            that quality (smaller files).
        webtoon_width: width of the webtoon strip, pixels.
        candidates: variants rendered per panel without a picked seed (different seeds,
            each cached, through the same queue); 1: just the panel.
        pick: ``"best"``: the candidate the consistency scorer rates best becomes the
            panel (its seed saved in the plan file); ``""``: candidate 0 (the panel's own seed).
        scorer: the consistency scorer's name (:mod:`storybench.scoring`).
        consistency_threshold: panels whose best consistency is under it are listed in the
            run summary (0..1).
        regenerate: panel ids that get new candidates (seeds not tried before) although they
            have a pick; the others are not touched. Their pick changes only with ``pick="best"``.
    """

    model_config = ConfigDict(extra="forbid")

    page_width: int = Field(1988, ge=256, le=20000)
    page_height: int = Field(3075, ge=256, le=20000)
    dpi: int = Field(300, ge=36, le=1200)
    margin: int = Field(75, ge=0)
    gutter: int = Field(38, ge=0)
    border: int = Field(6, ge=0)
    min_text_px: int = Field(24, ge=6, le=200)
    panel_max_side: int = Field(1024, ge=64, le=4096)
    reading_direction: str = Field("auto", pattern="^(auto|ltr|rtl)$")
    concurrency: int = Field(0, ge=0, le=256)
    retries: int = Field(3, ge=1, le=20)
    backoff_seconds: float = Field(1.0, ge=0)
    only_pages: list[int] = Field(default_factory=list)
    force: bool = False
    render_params: dict = Field(default_factory=dict)
    exports: list[ExportKind] = Field(default_factory=lambda: list(DEFAULT_EXPORTS))
    cover: bool = False
    author: str = Field("", max_length=200)
    pdf_quality: int = Field(100, ge=1, le=100)
    webtoon_width: int = Field(800, ge=100, le=4000)
    candidates: int = Field(1, ge=1, le=16)
    pick: str = Field("", pattern="^(best)?$")
    scorer: str = "palette"
    consistency_threshold: float = Field(0.5, ge=0.0, le=1.0)
    regenerate: list[str] = Field(default_factory=list)

    @field_validator("exports")
    @classmethod
    def _no_duplicate_exports(cls, value: list[ExportKind]) -> list[ExportKind]:
        seen = [k for i, k in enumerate(value) if k in value[:i]]
        if seen:
            raise ValueError(f"exports: {', '.join(seen)} named twice")
        return value


class EnvSettings(BaseSettings):
    """Non-secret settings from the environment, read in this one place.

    Every code path (backends, CLI, notebooks) takes its settings from here; only
    secrets (API keys) are read by the backend that needs them, never stored here.
    Empty strings mean "not set" (the user of the setting applies its own default).

    Attributes:
        output_dir: where renders and the catalog go (``STORYBENCH_OUTPUT_DIR``).
        image_backend: default image backend (``STORYBENCH_IMAGE_BACKEND``).
        llm_backend: default LLM backend (``STORYBENCH_LLM_BACKEND``).
        comfyui_url: ComfyUI base URL (``STORYBENCH_COMFYUI_URL``); several servers rendering
            as one backend: comma-separated URLs.
        outage_seconds: how long a backend waits for its unreachable servers (a restart, a
            network blip) before the run fails, seconds (``STORYBENCH_OUTAGE_SECONDS``,
            default 10 minutes).
        comfyui_workflows: extra folders of ComfyUI workflow templates,
            ``os.pathsep``-separated (``STORYBENCH_COMFYUI_WORKFLOWS``).
        batch_notebook: the batch notebook ``storybench render`` runs (``STORYBENCH_BATCH_NOTEBOOK``).
        project_dir: the project folder relative plan paths and outputs are taken in when the batch
            notebook runs elsewhere, e.g. as a Jupyter Scheduler job (``STORYBENCH_PROJECT_DIR``).
        runpod_base_url: RunPod serverless API root (``STORYBENCH_RUNPOD_BASE_URL``).
        runpod_endpoint_id: the RunPod endpoint id (``RUNPOD_ENDPOINT_ID``; not a secret).
        runware_url: Runware websocket URL (``STORYBENCH_RUNWARE_URL``).
        ollama_host: Ollama server, ``host:port`` or URL (``OLLAMA_HOST``, as Ollama reads it).
        ollama_model: Ollama model (``STORYBENCH_OLLAMA_MODEL``).
        openai_base_url: OpenAI-compatible server root (``STORYBENCH_OPENAI_BASE_URL``,
            else ``OPENAI_BASE_URL`` as the openai client reads it).
        openai_model: model asked of that server (``STORYBENCH_OPENAI_MODEL``).
        story_step: the story explorer notebook runs one scripted step (``STORYBENCH_STORY_STEP=1``, CI).
        max_plan_bytes: largest plan file or object accepted, bytes (``STORYBENCH_MAX_PLAN_BYTES``,
            default 4 MiB; a 20-page plan is well under 1 MB).
        default_language: language of a plan that does not say (``STORYBENCH_DEFAULT_LANGUAGE``;
            empty: ``"uk"``, as seed 002's planner requests).
        publish_target: the platform ``storybench publish`` sends to (``STORYBENCH_PUBLISH_TARGET``:
            ``grpcs://host:port`` with TLS, ``grpc://host:port`` without, or ``host:port``).
        publish_tls: TLS for a bare ``host:port`` publish target (``STORYBENCH_PUBLISH_TLS``).
        publish_ca_file: PEM root certificates for that TLS, "" for the system's (``STORYBENCH_PUBLISH_CA_FILE``).
        publish_timeout_seconds: deadline of each publish call, seconds (``STORYBENCH_PUBLISH_TIMEOUT_SECONDS``).
            The publish token (``STORYBENCH_PUBLISH_TOKEN``) is a secret and never a field here.
    """

    model_config = SettingsConfigDict(env_prefix="STORYBENCH_", extra="ignore")

    output_dir: str = "outputs"
    image_backend: str = "storyboard"
    llm_backend: str = "llamacpp"
    comfyui_url: str = DEFAULT_COMFYUI_URL
    outage_seconds: float = 600.0
    comfyui_workflows: str = ""
    batch_notebook: str = ""
    project_dir: str = ""
    runpod_base_url: str = ""
    runpod_endpoint_id: str = Field(default="", validation_alias="RUNPOD_ENDPOINT_ID")
    runware_url: str = ""
    ollama_host: str = Field(default="", validation_alias="OLLAMA_HOST")
    ollama_model: str = ""
    openai_base_url: str = Field(
        default="", validation_alias=AliasChoices("STORYBENCH_OPENAI_BASE_URL", "OPENAI_BASE_URL")
    )
    openai_model: str = ""
    story_step: bool = False
    max_plan_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    default_language: str = ""
    publish_target: str = ""
    publish_tls: bool = False
    publish_ca_file: str = ""
    publish_timeout_seconds: float = Field(default=30.0, gt=0)

    def output_dir_or(self, default: str) -> str:
        """``STORYBENCH_OUTPUT_DIR`` when it is set, else ``default`` (notebooks pass
        ``"../outputs"``: they run from ``notebooks/``)."""
        return self.output_dir if "output_dir" in self.model_fields_set else default


def env_settings() -> EnvSettings:
    """Settings read from the environment now."""
    return EnvSettings()
