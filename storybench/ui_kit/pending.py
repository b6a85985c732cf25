"""An open question a model returns as data instead of opening a dialog.

A model method that cannot go on without the user's answer (overwrite another story?
drop panels?) returns a :class:`Pending`; the model keeps it as its ``pending``
attribute and its view shows the message with one button per choice. The answer
goes back through the model's ``resolve(choice)``, which calls :attr:`Pending.action`.
Headless tests answer by calling ``resolve`` or clicking the view's buttons.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Pending"]


@dataclass
class Pending:
    """A question the user must answer before an action goes on.

    Attributes:
        kind: what is asked, e.g. ``"unsaved"``, ``"character-in-use"``, ``"overwrite-story"``,
            ``"drop-panels"``.
        message: the question, for display.
        choices: the answers the model's ``resolve`` accepts, e.g. ``("overwrite", "new", "cancel")``.
        labels: a display label per choice.
        action: called with the chosen answer (not for ``"cancel"``).
    """

    kind: str
    message: str
    choices: tuple[str, ...]
    labels: dict[str, str] = field(default_factory=dict)
    action: Callable[[str], Any] | None = field(default=None, repr=False)

    def label(self, choice: str) -> str:
        """The display label of ``choice`` (the choice itself when none is set)."""
        return self.labels.get(choice, choice)

    def check(self, choice: str, error: type[Exception] = ValueError) -> None:
        """Refuse an answer that is not one of :attr:`choices`.

        Raises:
            error: (``ValueError`` by default) ``choice`` is not one of the choices.
        """
        if choice not in self.choices:
            raise error(f"{choice!r} is not an answer to this question; choose one of {', '.join(self.choices)}")
