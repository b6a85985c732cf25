"""A panel's candidates as a contact sheet, with their consistency scores; Pick keeps one.

After ``storybench render PLAN -p candidates N``, the catalog holds every candidate of
every panel (artifacts ``<panel>~c<i>``, with ``seed`` and ``consistency``). This section
shows the selected panel's candidates from the newest run that made them, side by side,
each with its score and seed; the one whose seed the panel carries is marked picked.
**Pick** sets the panel's ``seed`` (one undoable edit) and saves the plan, so every later
render of the plan uses that candidate (it is in the cache: nothing is rendered again).
"""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from storybench.batch.catalog import read_catalog
from storybench.batch.locations import default_output_dir
from storybench.editor.model import PlanEditorModel
from storybench.editor.ui.base import EditorSection, button, cls

__all__ = ["CandidateCard", "CandidatesPane", "panel_candidates"]

#: Width of one candidate thumbnail, pixels.
THUMB_WIDTH = 180


def panel_candidates(output_dir: str | os.PathLike[str], plan_id: str, panel_id: str) -> list[dict[str, Any]]:
    """The candidates of ``panel_id`` of plan ``plan_id`` in the catalog of ``output_dir``,
    from the newest run that rendered them, in candidate order: dicts with ``candidate``,
    ``seed``, ``consistency`` (``None`` when unscored) and ``path`` (absolute)."""
    df = read_catalog(output_dir)
    if df.empty:
        return []
    rows = df[
        (df.plan_id == plan_id)
        & (df.panel_id == panel_id)
        & df.artifact_id.str.contains("~c", regex=False)
        & (df.status == "completed")
    ]
    if rows.empty:
        return []
    newest = rows.sort_values("finished_at").run_id.iloc[-1]
    rows = rows[rows.run_id == newest].sort_values("candidate")
    out = []
    for _, r in rows.iterrows():
        score = None if r.consistency != r.consistency or r.consistency is None else float(r.consistency)  # NaN
        out.append(
            {
                "candidate": int(r.candidate),
                "seed": int(r.seed),
                "consistency": score,
                "path": str(Path(output_dir) / r.path),
            }
        )
    return out


class CandidateCard(widgets.VBox):
    """One candidate: its image, ``c<i> · score · seed``, and Pick (``sb-editor-candidate-pick``)."""

    def __init__(self, found: dict[str, Any], picked: bool) -> None:
        self.found = found
        path = Path(found["path"])
        data = path.read_bytes() if path.is_file() else b""
        score = found["consistency"]
        words = f"candidate {found['candidate']} · consistency {score:.2f}" if score is not None else "not scored"
        self.image = cls(widgets.Image(value=data, format="png", width=THUMB_WIDTH), "candidate-image")
        self.image.layout.max_width = f"{THUMB_WIDTH}px"
        self.label = cls(
            widgets.HTML(f"{'<b>picked</b> · ' if picked else ''}{words}<br>seed {found['seed']}"), "candidate-label"
        )
        self.pick_button = button(
            "Picked" if picked else "Pick", "candidate-pick", "check", label=f"pick candidate {found['candidate']}"
        )
        self.pick_button.disabled = picked
        super().__init__([self.image, self.label, self.pick_button])
        cls(self, "candidate-picked" if picked else "candidate")


class CandidatesPane(EditorSection):
    """The selected panel's candidates (see the module doc).

    Args:
        model: the editor model.
        output_dir: the outputs folder whose catalog holds the candidates (default: as
            ``storybench render``: ``$STORYBENCH_OUTPUT_DIR``, else ``outputs``).
    """

    depends_on = ("revision", "selection")

    def __init__(self, model: PlanEditorModel, output_dir: str | os.PathLike[str] | None = None) -> None:
        self.output_dir = default_output_dir(output_dir)
        self.message = cls(widgets.HTML(), "candidates-message")
        self.sheet = cls(widgets.HBox(), "candidates-sheet")
        self.cards: list[CandidateCard] = []
        super().__init__(model, [self.message, self.sheet], name="candidates")
        if model.plan is not None:
            self.update()

    def update(self) -> None:
        """Redraw the contact sheet of the selected panel."""
        plan = self.model.plan
        if plan is None:
            self.sheet.children, self.cards = (), []
            self.message.value = ""
            return
        panel = self.model.panel
        found = panel_candidates(self.output_dir, plan.id, panel.id)
        self.cards = [CandidateCard(f, picked=panel.seed == f["seed"]) for f in found]
        for card in self.cards:
            card.pick_button.on_click(self.clicked(partial(self.pick, card.found["seed"])))
        self.sheet.children = tuple(self.cards)
        self.message.value = (
            f"{len(found)} candidate(s) of panel {panel.id}; Pick keeps one in every later render. "
            f"New ones for this panel only: <code>-p regenerate '[\"{panel.id}\"]'</code>."
            if found
            else f"No candidates of panel {panel.id} yet: render with <code>-p candidates 3</code>."
        )

    def pick(self, seed: int) -> Any:
        """Make the candidate with ``seed`` the panel's (an undoable edit) and save the plan."""
        self.model.update_panel(seed=seed)
        return self.model.request_save()
