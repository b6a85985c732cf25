import pytest

from storybench.exceptions import UnknownBackendError
from storybench.llm import get_llm_backend
from storybench.render import ImageBackend, RenderResult, get_image_backend, image_backend_names, register_image_backend


class _Dummy(ImageBackend):
    name = "dummy-test"

    def __init__(self, colour="red"):
        self.colour = colour

    def render(self, spec):
        return RenderResult(image=b"", width=spec.width, height=spec.height)


def test_unknown_image_backend_lists_known_names():
    register_image_backend("dummy-test", _Dummy)
    with pytest.raises(UnknownBackendError) as err:
        get_image_backend("no-such-backend")
    assert "unknown image backend 'no-such-backend'" in str(err.value)
    assert "dummy-test" in err.value.known


def test_registered_backend_is_created_with_options():
    register_image_backend("dummy-test", _Dummy)
    backend = get_image_backend("dummy-test", colour="blue")
    assert isinstance(backend, _Dummy) and backend.colour == "blue"
    assert "dummy-test" in image_backend_names()


def test_unknown_llm_backend_is_a_clear_error():
    with pytest.raises(UnknownBackendError, match="unknown LLM backend 'gpt-99'"):
        get_llm_backend("gpt-99")
