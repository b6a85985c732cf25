"""Comic planning: a story idea → a valid comic plan, through three constrained LLM stages.

See :func:`plan_comic`. The stage answer models are in :mod:`.schemas`, prompts in
:mod:`.prompts`, the code's repairs in :mod:`.repair`, the CLI subcommand in :mod:`.cli`.
"""

from storybench.planner.planner import PlanResult, plan_comic, resolve_llm
from storybench.planner.progress import ProgressEvent
from storybench.planner.schemas import CAMERA_SHOTS, page_count_rule

__all__ = ["CAMERA_SHOTS", "PlanResult", "ProgressEvent", "page_count_rule", "plan_comic", "resolve_llm"]
