"""storybench: author AI-illustrated branching stories and comics, and batch-render comic plans.

Data flows one way: plan → prompts → render spec → image backend → image →
lettering and page composition → export, with the batch engine around the render
step and the output catalog recording every artifact.
"""

from storybench.exceptions import (
    BackendError,
    BackendUnavailable,
    Cancelled,
    ConfigError,
    MissingDependencyError,
    OutOfMemoryError,
    PermanentBackendError,
    PlanIssue,
    PlanValidationError,
    RetryExhausted,
    StorybenchError,
    StructuredOutputError,
    TransientBackendError,
    UnknownBackendError,
    WorkflowError,
)
from storybench.plan import ComicPlan, load_plan, parse_plan, save_plan
from storybench.render import RenderResult, RenderSpec, get_image_backend

__version__ = "0.1.0"

__all__ = [
    "BackendError",
    "BackendUnavailable",
    "Cancelled",
    "ComicPlan",
    "ConfigError",
    "MissingDependencyError",
    "OutOfMemoryError",
    "PermanentBackendError",
    "PlanIssue",
    "PlanValidationError",
    "RenderResult",
    "RenderSpec",
    "RetryExhausted",
    "StorybenchError",
    "StructuredOutputError",
    "TransientBackendError",
    "UnknownBackendError",
    "WorkflowError",
    "__version__",
    "get_image_backend",
    "load_plan",
    "parse_plan",
    "save_plan",
]
