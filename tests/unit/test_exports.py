"""The shape of the public API: one front door, errors that map to crashkit's hierarchy."""

from __future__ import annotations

import pathlib
import pickle
import tomllib

import pytest

import crashkit
from crashkit import errors


def test_all_lists_exactly_the_public_names():
    public = {name for name in dir(crashkit) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(crashkit, name)).__name__ == "module"}
    assert set(crashkit.__all__) == public - modules


def test_every_exported_name_is_documented():
    for name in crashkit.__all__:
        assert getattr(crashkit, name).__doc__, f"{name} has no docstring"


@pytest.mark.parametrize(
    ("error", "builtin"),
    [
        (errors.ScenarioError("s", "p", "f"), ValueError),
        (errors.ResultsError("r"), ValueError),
        (errors.ChildError("c"), RuntimeError),
        (errors.UsageError("u"), ValueError),
    ],
)
def test_errors_subclass_the_fitting_builtin_and_pickle(error, builtin):
    assert isinstance(error, errors.CrashkitError) and isinstance(error, builtin)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error) and str(copy) == str(error)


def test_every_package_is_in_the_wheel():
    """pyproject.toml lists the packages a wheel ships: a package missing there imports
    in a checkout but not once installed."""
    root = pathlib.Path(crashkit.__file__).parent
    project = tomllib.loads((root.parent / "pyproject.toml").read_text())
    listed = set(project["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(root.parent).parts) for init in root.rglob("__init__.py")
    }
    assert found - listed == set(), "add them to [tool.setuptools] packages in pyproject.toml"
