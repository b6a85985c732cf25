"""Public names of the scale-out backends (pinned, like httpx's test_exported_members)."""

import storybench.render.runpod as runpod_pkg
import storybench.render.runware as runware_mod
from storybench.render.runpod import api, backend, payload, workflows


def test_runpod_public_names():
    assert sorted(runpod_pkg.__all__) == sorted(
        [
            "RunPodBackend",
            "RunPodAPI",
            "WorkflowBuilder",
            "template_workflow_builder",
            "concurrency_from_health",
            "build_input",
            "parse_output",
            "error_text",
            "job_error_text",
        ]
    )
    for module in (runpod_pkg, api, backend, payload, workflows):
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"


def test_runware_public_names():
    assert sorted(runware_mod.__all__) == sorted(
        ["RunwareBackend", "runware_size", "validate_air", "ENV_API_KEY", "ENV_URL", "MIN_SIDE", "MAX_SIDE"]
    )
    assert all(hasattr(runware_mod, n) for n in runware_mod.__all__)


def test_registry_names_resolve():
    from storybench.render.base import _BUILTIN

    assert _BUILTIN["runpod"] == "storybench.render.runpod:RunPodBackend"
    assert _BUILTIN["runware"] == "storybench.render.runware:RunwareBackend"
    assert backend.RunPodBackend.name == "runpod" and runware_mod.RunwareBackend.name == "runware"
