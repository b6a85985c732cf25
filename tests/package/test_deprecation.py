"""The deprecation path of the public surface: old names keep working and warn, naming the new one."""

from __future__ import annotations

import importlib
import sys
import warnings

import pytest

from storybench.deprecation import StorybenchDeprecationWarning, deprecate, moved_module, rename_keys
from storybench.plan.loading import parse_plan
from storybench.plan.models import Dialogue


def test_deprecate_names_the_replacement_and_the_release() -> None:
    with pytest.warns(StorybenchDeprecationWarning, match=r"the flag '--slot' is deprecated .* 0\.3; use '--role'"):
        deprecate("the flag '--slot'", instead="'--role'", removed_in="0.3")


def test_rename_keys_renames_warns_and_refuses_both() -> None:
    with pytest.warns(StorybenchDeprecationWarning, match=r"'chapters\[0\]\.pageNo'.*use 'pageNumber'"):
        out = rename_keys({"pageNo": 3, "x": 1}, {"pageNo": "pageNumber"}, where="chapters[0]", removed_in="0.3")
    assert out == {"pageNumber": 3, "x": 1}
    untouched = {"pageNumber": 3}
    assert rename_keys(untouched, {"pageNo": "pageNumber"}, removed_in="0.3") is untouched
    assert rename_keys([1, 2], {"a": "b"}, removed_in="0.3") == [1, 2]
    with pytest.raises(ValueError, match=r"both the old field 'pageNo' and its new name 'pageNumber'"):
        rename_keys({"pageNo": 1, "pageNumber": 2}, {"pageNo": "pageNumber"}, removed_in="0.3")


def test_a_renamed_plan_field_still_loads_with_a_warning(example_plan_dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """A plan written with a field's old name loads as if written with the new one."""
    monkeypatch.setattr(Dialogue, "renamed_fields", {"line": "text"})
    data = example_plan_dict()
    panel = data["chapters"][0]["pages"][0]["panels"][0]
    panel["dialogue"] = [{"character": data["characters"][0]["id"], "line": "Who goes there?"}]
    with pytest.warns(StorybenchDeprecationWarning, match=r"'line'.*use 'text'"):
        plan = parse_plan(data)
    assert plan.chapters[0].pages[0].panels[0].dialogue[0].text == "Who goes there?"


def test_no_renamed_fields_means_no_warning(example_plan_dict) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", StorybenchDeprecationWarning)
        parse_plan(example_plan_dict())


def test_old_widgets_package_is_ui_kit_with_a_warning() -> None:
    sys.modules.pop("storybench.widgets", None)
    with pytest.warns(StorybenchDeprecationWarning, match=r"'storybench\.widgets'.*'storybench\.ui_kit'"):
        old = importlib.import_module("storybench.widgets")
    assert old is importlib.import_module("storybench.ui_kit")
    with pytest.raises(ImportError), pytest.warns(StorybenchDeprecationWarning):
        moved_module("x", "storybench.no_such_module", removed_in="0.3")
