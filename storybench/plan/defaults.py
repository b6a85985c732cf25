"""What a plan may leave out, and what is filled in: plans as Kitsumy's planner writes them.

Seed 002's ``ComicPlan`` interface (``title, style, characters, chapters``) has no
``id`` and no ``language``, and its characters may have no ``seed``. Loading such a
plan fills in:

* ``id``: a slug of the title (transliterated to ASCII, lowercase, ``-`` between
  words, at most 60 characters) followed by ``-`` and 6 hex digits of the title's
  SHA-256, so two different titles never share an id even when their slugs agree
  (``"Kot!"`` and ``"Kot?"``, or a title with no Latin letters at all:
  ``plan-<hex>``); the same title always gives the same id, so reruns resume;
* ``language``: ``STORYBENCH_DEFAULT_LANGUAGE``, else :data:`DEFAULT_LANGUAGE`
  (``"uk"``, the planner request's default in seed 002);
* each character's ``seed``: :func:`storybench.plan.models.derive_seed` of the
  plan id and character id (done by the model, reported here).

:func:`fill_defaults` returns the completed data and one :class:`Filled` note per
value it supplied, which ``storybench validate`` prints.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from slugify import slugify

from storybench.config import env_settings

__all__ = ["DEFAULT_LANGUAGE", "Filled", "default_language", "fill_defaults", "plan_id_from_title", "seed_notes"]

#: Language of a plan that does not say (seed 002: ``PlanRequest.language`` defaults to ``"uk"``).
DEFAULT_LANGUAGE = "uk"
_SLUG_CHARS = 60


@dataclass(frozen=True)
class Filled:
    """One value supplied because the plan left it out.

    Attributes:
        path: JSON path of the field (``id``, ``characters[0].seed``).
        value: the value supplied.
        reason: where it came from, in words.
    """

    path: str
    value: Any
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: not given; filled in {self.value!r} ({self.reason})"


def default_language() -> str:
    """``STORYBENCH_DEFAULT_LANGUAGE`` (:class:`~storybench.config.EnvSettings`), else :data:`DEFAULT_LANGUAGE`."""
    return env_settings().default_language.strip() or DEFAULT_LANGUAGE


def plan_id_from_title(title: str) -> str:
    """A plan id (a slug) derived from ``title``, e.g. ``"Пригоди кота"`` → ``"prigodi-kota-<6 hex>"``;
    see the module docstring."""
    slug = slugify(title[:400], max_length=_SLUG_CHARS, word_boundary=True, lowercase=True) or "plan"
    digest = hashlib.sha256(title.encode("utf-8", "surrogatepass")).hexdigest()[:6]
    return f"{slug}-{digest}"


def fill_defaults(data: dict[str, Any]) -> tuple[dict[str, Any], list[Filled]]:
    """Fill in ``id`` and ``language`` when absent (or null), and list the character
    seeds the model will derive.

    Args:
        data: a decoded plan object (not modified).

    Returns:
        ``(data, filled)``: a shallow copy with the values supplied, and a note per value.
        Character seeds are reported with the id they will be derived from; the model
        derives them (see :class:`~storybench.plan.models.ComicPlan`).
    """
    out = dict(data)
    filled: list[Filled] = []
    title = out.get("title")
    if out.get("id") is None and isinstance(title, str) and title.strip():
        out["id"] = plan_id_from_title(title.strip())
        filled.append(Filled("id", out["id"], "a slug of the title plus 6 hex digits of its SHA-256"))
    if out.get("language") is None:
        out["language"] = default_language()
        source = (
            "STORYBENCH_DEFAULT_LANGUAGE"
            if out["language"] != DEFAULT_LANGUAGE
            else "the default: Kitsumy's planner requests 'uk' unless told (seed 002); "
            "set STORYBENCH_DEFAULT_LANGUAGE or the plan's language to change it"
        )
        filled.append(Filled("language", out["language"], source))
    return out, filled


def seed_notes(data: dict[str, Any], plan: Any) -> list[Filled]:
    """Notes for the character seeds a validated ``plan`` derived because ``data`` had none."""
    notes: list[Filled] = []
    raw = data.get("characters")
    if not isinstance(raw, list):
        return notes
    for i, (item, character) in enumerate(zip(raw, plan.characters, strict=False)):
        if isinstance(item, dict) and item.get("seed") is None:
            notes.append(
                Filled(
                    f"characters[{i}].seed", character.seed, f"derived from plan id {plan.id!r} and {character.id!r}"
                )
            )
    return notes
