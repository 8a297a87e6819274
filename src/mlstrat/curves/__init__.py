"""Learning curves against training-set size: nested subsets, train and dev figures, a power law.

``learning_curve`` works with any scikit-learn estimator; ``curve_from_config`` trains
mlstrat's own network (``mlstrat curve CONFIG``).
"""

from mlstrat.curves._config import curve_from_config
from mlstrat.curves._curve import (
    CurvePoint,
    LearningCurve,
    learning_curve,
    model_family_of,
    parse_curve_sizes,
    resolve_sizes,
)
from mlstrat.curves._powerlaw import Doubling, PowerLawFit, fit_power_law

__all__ = [
    "CurvePoint",
    "Doubling",
    "LearningCurve",
    "PowerLawFit",
    "curve_from_config",
    "fit_power_law",
    "learning_curve",
    "model_family_of",
    "parse_curve_sizes",
    "resolve_sizes",
]
