"""The plan editor's open/save session: which file the plan comes from and goes to,
whether it changed since (dirty), and whether the file changed under it (a save conflict).

No widgets, no undo: :class:`PlanSession` reads and writes plan files atomically
(:func:`storybench.plan.loading.save_plan`) and remembers two fingerprints: the plan's
canonical SHA-256 when it was last opened or saved (:meth:`PlanSession.is_dirty`), and
the file's bytes' SHA-256 then (:meth:`PlanSession.conflict`: someone else wrote the file).
"""

from __future__ import annotations

from pathlib import Path

from storybench.files import sha256_file
from storybench.plan.loading import load_plan, save_plan
from storybench.plan.models import ComicPlan

__all__ = ["PlanSession"]


class PlanSession:
    """Where the plan under edit lives.

    Args:
        plans_dir: folder of plan files (``*.json``) the editor lists and saves new plans to.

    Attributes:
        path: the file Save writes (``None``: not chosen yet).
    """

    def __init__(self, plans_dir: str | Path = "plans") -> None:
        self.plans_dir = Path(plans_dir)
        self.path: Path | None = None
        self._saved_sha: str | None = None
        self._file_sha: str | None = None

    def list_plans(self) -> list[Path]:
        """Plan files in :attr:`plans_dir`, sorted by name."""
        return sorted(self.plans_dir.glob("*.json")) if self.plans_dir.is_dir() else []

    def default_path(self, plan: ComicPlan) -> Path:
        """``plans_dir/<plan id>.json``."""
        return self.plans_dir / f"{plan.id}.json"

    def open(self, path: str | Path) -> ComicPlan:
        """Read and validate ``path``; it becomes the session's file.

        Raises:
            FileNotFoundError, OSError, PlanValidationError: from :func:`~storybench.plan.loading.load_plan`.
        """
        path = Path(path)
        plan = load_plan(path)
        self.adopt(plan, path, saved=True)
        return plan

    def adopt(self, plan: ComicPlan, path: Path | None, *, saved: bool) -> None:
        """Make ``path`` the session's file for ``plan``; ``saved``: the file holds ``plan`` as is."""
        self.path = path
        self._saved_sha = plan.sha256() if saved else None
        self._file_sha = self._sha(path) if saved and path is not None else None

    def is_dirty(self, plan: ComicPlan | None) -> bool:
        """``plan`` differs from what was last opened or saved."""
        return plan is not None and plan.sha256() != self._saved_sha

    def conflict(self, target: Path) -> bool:
        """Saving to ``target`` would write over a file this session did not write or read
        as it is now (another plan, or this plan changed on disk by someone else)."""
        if not target.is_file():
            return False
        return target != self.path or self._sha(target) != self._file_sha

    def save(self, plan: ComicPlan, path: str | Path | None = None) -> Path:
        """Write ``plan`` atomically to ``path`` (default :attr:`path`, else :meth:`default_path`).

        Returns:
            The file written; it becomes :attr:`path` and the plan counts as saved.
        """
        target = Path(path) if path else self.path or self.default_path(plan)
        save_plan(plan, target)
        self.adopt(plan, target, saved=True)
        return target

    @staticmethod
    def _sha(path: Path | None) -> str | None:
        try:
            return sha256_file(path) if path is not None else None
        except OSError:
            return None
