"""Candidates per panel and a pick that sticks (``settings.candidates``, ``settings.pick``).

For each panel of the run without a picked seed (``PanelPlan.seed``), the engine renders
``N`` candidates — the panel's spec with seeds :func:`candidate_seed` ``(seed, 0..N-1)``
(candidate 0 is the panel's own seed), each content-addressed and cached — through the
same queue and server pool as the panels, so N candidates on K servers take about N/K
of the time. Each finished candidate is scored in its worker against the character
sheets (:func:`score_job`, the ``settings.scorer`` plugin). With ``pick="best"`` the
best-scored candidate becomes the panel: its seed goes into the panel's spec (the panel
job then finds it in the cache) and into the plan file (:func:`save_picks`), so every
later render uses it and no candidates are made for that panel again.

Candidate artifacts are ``<panel id>~c<i>`` (``panels/<panel id>~c<i>.png``); their
catalog rows carry ``candidate`` and ``consistency``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from storybench.batch.jobs import Job, JobKind, JobState
from storybench.batch.keys import RunKeys
from storybench.batch.work import PageWork
from storybench.exceptions import ConfigError
from storybench.files import atomic_write_text
from storybench.plan.models import SEED_MAX, ComicPlan, PanelPlan
from storybench.scoring import Scorer, load_image, panel_score, score_cast

__all__ = [
    "CandidateSet",
    "Picks",
    "SheetImages",
    "apply_picks",
    "best_candidate",
    "candidate_id",
    "candidate_seed",
    "candidate_sets",
    "check_regenerate",
    "save_picks",
    "score_job",
]

_STRIDE = 7919  # a prime: candidate seeds spread over the seed range


def candidate_seed(seed: int, index: int) -> int:
    """Seed of candidate ``index`` of a panel whose own seed is ``seed`` (index 0: ``seed``)."""
    return (seed + index * _STRIDE * 104729) % (SEED_MAX + 1)


def candidate_id(panel_id: str, index: int) -> str:
    """The artifact id of candidate ``index`` of ``panel_id``: ``"<panel_id>~c<index>"``."""
    return f"{panel_id}~c{index}"


@dataclass
class CandidateSet:
    """The candidates of one panel.

    Attributes:
        work: the panel's page.
        panel_id: the panel.
        jobs: its candidate jobs, index order.
    """

    work: PageWork
    panel_id: str
    jobs: list[Job] = field(default_factory=list)


def check_regenerate(plan: ComicPlan, panel_ids: Sequence[str]) -> None:
    """Refuse ``settings.regenerate`` naming panels the plan does not have.

    Raises:
        ConfigError: names the unknown panel ids.
    """
    known = {p.id for _, page in plan.pages() for p in page.panels}
    unknown = [pid for pid in panel_ids if pid not in known]
    if unknown:
        raise ConfigError(f"settings.regenerate: plan {plan.id!r} has no panel {', '.join(map(repr, unknown))}")


def candidate_sets(
    pages: Sequence[PageWork],
    keys: RunKeys,
    sheet_sha: Mapping[str, str],
    count: int,
    skip: Mapping[str, object],
    regenerate: Sequence[str] = (),
) -> list[CandidateSet]:
    """The candidate jobs (with spec and cache key) of every panel of ``pages`` that has
    no picked seed, or is in ``regenerate``, and is not in ``skip`` (its sheet failed).

    Args:
        pages: the pages rendered in this run.
        keys: the run's key functions.
        sheet_sha: character id to the hex SHA-256 of their rendered sheet.
        count: candidates per panel (the panel's own seed first).
        skip: panel ids to leave out.
        regenerate: panel ids that get new candidates although they have a pick: seeds
            from ``candidate_seed(seed, count)`` on, never tried from that seed before.
    """
    sets = []
    for w in pages:
        for panel in w.panels:
            again = panel.id in regenerate
            if (panel.seed is not None and not again) or panel.id in skip or not w.panel_jobs:
                continue
            jobs = _candidate_jobs(w, panel, keys, sheet_sha, count, count if again else 0)
            if len(jobs) == count:
                sets.append(CandidateSet(w, panel.id, jobs))
    return sets


def _candidate_jobs(
    w: PageWork, panel: PanelPlan, keys: RunKeys, sheet_sha: Mapping[str, str], count: int, first: int
) -> list[Job]:
    """Up to ``count`` candidate jobs of ``panel``, seeds ``candidate_seed(seed, first + i)``;
    they stop at the first whose cache key cannot be made yet (its sheet is missing)."""
    base = w.specs[panel.id]
    jobs = []
    for i in range(count):
        spec = base.model_copy(update={"seed": candidate_seed(base.seed, first + i)})
        keyed = keys.panel(spec, panel, sheet_sha)
        if keyed.key is None:
            break
        cid = candidate_id(panel.id, i)
        job = Job(JobKind.PANEL, cid, keys.folder.panel_path(cid), keyed.spec, cache_key=keyed.key)
        job.chapter_id, job.page_number, job.candidate = w.chapter.id, w.page.page_number, i
        jobs.append(job)
    return jobs


@dataclass
class Picks:
    """What :func:`apply_picks` chose.

    Attributes:
        seeds: panel id to the chosen candidate's seed.
        low: ``(panel id, best consistency)`` of the panels scored under the threshold.
    """

    seeds: dict[str, int] = field(default_factory=dict)
    low: list[tuple[str, float]] = field(default_factory=list)


def apply_picks(
    sets: Sequence[CandidateSet], keys: RunKeys, sheet_sha: Mapping[str, str], *, best: bool, threshold: float
) -> Picks:
    """Make each panel the chosen candidate: the best-scored with ``best``, else candidate 0.

    The panel's spec takes the candidate's seed (so the panel job finds it in the cache),
    its job the candidate's index and score, and with ``best`` the plan in memory the seed.
    """
    picks = Picks()
    for cs in sets:
        _note_low(picks, cs, threshold)
        chosen = _chosen(cs, best)
        if chosen is None:
            continue
        job, seed = chosen
        _make_panel(cs, job, seed, keys, sheet_sha)
        if best:
            cs.work.panel(cs.panel_id).seed = seed
            picks.seeds[cs.panel_id] = seed
    return picks


def _note_low(picks: Picks, cs: CandidateSet, threshold: float) -> None:
    """Add ``cs``'s panel to ``picks.low`` when its best consistency is under ``threshold``."""
    scored = [j.consistency for j in cs.jobs if j.consistency is not None]
    if scored and max(scored) < threshold:
        picks.low.append((cs.panel_id, max(scored)))


def _chosen(cs: CandidateSet, best: bool) -> tuple[Job, int] | None:
    """The candidate to make ``cs``'s panel and its seed, or None: a regenerated panel keeps
    its pick without ``best``, and only a completed candidate with a spec can be chosen."""
    kept = cs.work.panel(cs.panel_id).seed is not None and not best  # regenerated: the pick stays
    chosen = best_candidate(cs.jobs) if best else cs.jobs[0]
    if kept or chosen is None or chosen.state is not JobState.COMPLETED or chosen.spec is None:
        return None
    return chosen, chosen.spec.seed


def _make_panel(cs: CandidateSet, chosen: Job, seed: int, keys: RunKeys, sheet_sha: Mapping[str, str]) -> None:
    """Point the panel's spec at ``seed`` and its job at ``chosen`` (index, score, spec, cache key)."""
    w = cs.work
    panel = w.panel(cs.panel_id)
    w.specs[cs.panel_id] = w.specs[cs.panel_id].model_copy(update={"seed": seed})
    job = next(j for j in w.panel_jobs if j.artifact_id == cs.panel_id)
    job.candidate, job.consistency = chosen.candidate, chosen.consistency
    job.spec, job.cache_key = keys.panel(w.specs[cs.panel_id], panel, sheet_sha).known()


def best_candidate(jobs: Sequence[Job]) -> Job | None:
    """The completed candidate with the highest consistency (unscored count as 0; ties: the
    lowest index), or None when none completed."""
    done = [j for j in jobs if j.state is JobState.COMPLETED]
    if not done:
        return None
    return max(done, key=lambda j: (j.consistency if j.consistency is not None else 0.0, -(j.candidate or 0)))


class SheetImages:
    """The run's character sheets as images, decoded once (thread-safe)."""

    def __init__(self, sheets: Mapping[str, Path]) -> None:
        self._paths = dict(sheets)
        self._images: dict[str, Image.Image] = {}
        self._lock = threading.Lock()

    def get(self) -> dict[str, Image.Image]:
        """Character id to sheet image, for the sheets whose file exists."""
        with self._lock:
            for cid, path in self._paths.items():
                if cid not in self._images and path.is_file():
                    self._images[cid] = load_image(path.read_bytes())
            return dict(self._images)


def score_job(job: Job, scorer: Scorer, sheets: SheetImages) -> None:
    """Set ``job.consistency`` from its image (at ``job.path``) and the sheets of its
    spec's characters (None when none of them has a sheet or is in the shot)."""
    if job.spec is None or job.kind is not JobKind.PANEL:
        return
    scores = score_cast(scorer, job.path.read_bytes(), job.spec, sheets.get())
    job.consistency = panel_score(scores)
    if scores:
        job.metrics = {**job.metrics, "consistency_by_character": scores}


def save_picks(plan_path: str | Path, seeds: Mapping[str, int]) -> None:
    """Write the picked seed of each panel (panel id → seed) into the plan file, atomically;
    the rest of the file is kept as it is.

    Raises:
        OSError: the file cannot be read or written.
        ValueError: the file is not JSON.
    """
    path = Path(plan_path)
    data = json.loads(path.read_text(encoding="utf-8"))
    for chapter in data.get("chapters", []):
        for page in chapter.get("pages", []):
            for panel in page.get("panels", []):
                if panel.get("id") in seeds:
                    panel["seed"] = int(seeds[panel["id"]])
    atomic_write_text(path, json.dumps(data, ensure_ascii=False, indent=2) + "\n")
