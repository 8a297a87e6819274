"""Bundled demo scenarios, built from data that ships inside installed packages."""

from mlstrat.scenarios._demo import SCENARIOS, DemoResult, Iteration, Scenario, run_demo
from mlstrat.scenarios.digits import FEATURE_PREFIX, IMAGE_SHAPE, VALUE_RANGE, build_digits_manifest

__all__ = [
    "FEATURE_PREFIX",
    "IMAGE_SHAPE",
    "SCENARIOS",
    "VALUE_RANGE",
    "DemoResult",
    "Iteration",
    "Scenario",
    "build_digits_manifest",
    "run_demo",
]
