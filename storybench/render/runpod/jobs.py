"""The RunPod jobs of one backend: a submitted job, and the submission a panel is waiting for."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Job", "Submission"]


class Job:
    """A job submitted to RunPod: its id, and the cancel generation it belongs to."""

    __slots__ = ("generation", "id")

    def __init__(self, job_id: str, generation: int) -> None:
        self.id = job_id
        self.generation = generation


@dataclass
class Submission:
    """The job a panel is waiting for now, and how its polling goes (one panel's render)."""

    job: Job
    submitted: float  # time.monotonic() of the latest /run
    count: int  # submissions so far (1 + resubmissions)
    delay: float  # the next poll's delay, seconds
