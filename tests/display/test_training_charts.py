"""Training charts: no empty panel, labelled axes, train-dev when the history has it."""

from __future__ import annotations

import re

from mlstrat.display._charts import dynamics_svg, learning_curves_svg


def _axes(svg: str) -> int:
    return len(set(re.findall(r'id="dynamics-(axes_\d+)"', svg)))


def _epochs(lr: list[float], layers: bool) -> list[dict]:
    return [{"epoch": i + 1, "lr": v, **({"layers": {"fc1": {"grad_norm": 0.1 * (i + 1)}}} if layers else {})}
            for i, v in enumerate(lr)]


def test_a_constant_learning_rate_gets_no_panel() -> None:
    assert dynamics_svg(_epochs([0.01] * 4, layers=False)) is None
    svg = dynamics_svg(_epochs([0.01] * 4, layers=True))
    assert _axes(svg) == 1 and 'id="dynamics-grad-norm-axis-label"' in svg
    assert _axes(dynamics_svg(_epochs([0.01, 0.005, 0.0025, 0.001], layers=True))) == 2
    assert _axes(dynamics_svg(_epochs([0.01, 0.005, 0.0025, 0.001], layers=False))) == 1


def test_per_epoch_curves_include_train_dev_when_recorded() -> None:
    epochs = [{"epoch": i, "train_cost": 1 / i, "dev_cost": 1.2 / i, "train_error": 0.1 / i,
               "dev_error": 0.2 / i, "train_dev_error": 0.12 / i, "train_dev_cost": 1.1 / i} for i in (1, 2, 3)]
    svg = learning_curves_svg(epochs)
    for kind in ("cost", "error"):
        assert f'id="curves-line-train_dev-{kind}"' in svg
    without = learning_curves_svg([{k: v for k, v in e.items() if not k.startswith("train_dev")} for e in epochs])
    assert "line-train_dev" not in without and 'id="curves-line-dev-error"' in without
