"""Staging of a render spec's cast: :func:`stage_figures`.

The heuristic itself (:func:`stage_cast`, :class:`Figure`, shot scales) lives in
:mod:`storybench.plan.staging`, below both the renderers and the letterer; its names
are re-exported here.
"""

from __future__ import annotations

from storybench.plan.staging import Figure, ShotScale, horizon, shot_scale, stage_cast
from storybench.render.spec import RenderSpec

__all__ = ["Figure", "ShotScale", "horizon", "shot_scale", "stage_cast", "stage_figures"]


def stage_figures(spec: RenderSpec) -> list[Figure]:
    """Stage the cast of a render spec (its camera and ``width / height`` aspect).

    Returns:
        See :func:`storybench.plan.staging.stage_cast`.
    """
    return stage_cast(spec.cast, spec.camera, spec.width / spec.height)
