"""`mlstrat.__all__` lists exactly the public names, and each one resolves."""

import importlib
import inspect

import pytest

import mlstrat

CAPABILITIES = ["tables", "splits", "metrics", "diagnosis", "errors", "mismatch", "runs", "report",
                "scenarios", "nn", "tune"]


@pytest.mark.parametrize("name", mlstrat.__all__)
def test_every_public_name_resolves(name):
    assert getattr(mlstrat, name) is not None


def test_all_has_no_duplicates_and_matches_dir():
    assert len(set(mlstrat.__all__)) == len(mlstrat.__all__)
    public = {n for n in dir(mlstrat) if not n.startswith("_") and not inspect.ismodule(getattr(mlstrat, n))}
    public -= {"annotations"}
    assert public == set(mlstrat.__all__) - {"__version__"}


@pytest.mark.parametrize("package", CAPABILITIES)
def test_capability_all_matches_its_public_names(package):
    module = importlib.import_module(f"mlstrat.{package}")
    exported = set(module.__all__)
    for name in exported:
        assert hasattr(module, name), f"mlstrat.{package}.__all__ lists missing {name!r}"
    defined_here = {
        n for n, v in vars(module).items()
        if not n.startswith("_") and (inspect.isclass(v) or inspect.isfunction(v))
        and getattr(v, "__module__", "").startswith(f"mlstrat.{package}")
    }
    assert defined_here <= exported, f"public but not in __all__: {sorted(defined_here - exported)}"
