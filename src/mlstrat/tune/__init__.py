"""Hyperparameter search (docs/method.md §5): random sampling on each parameter's scale, coarse
to fine, trials in parallel processes, every trial a recorded run with its diagnosis, the winner
chosen on dev under satisficing constraints. Optuna (its RandomSampler and SQLite storage) does
the sampling and the bookkeeping; this package adds the method."""

from mlstrat.tune._prune import Pruning, parse_duration
from mlstrat.tune._search import SearchResult, Tie, Trial, search
from mlstrat.tune._space import PARAMS, Param, TuneConfig, apply_params, zoom
from mlstrat.tune._tune import TuneResult, component_effects, read_tune_config, tune

__all__ = ["PARAMS", "Param", "Pruning", "SearchResult", "Tie", "Trial", "TuneConfig", "TuneResult", "apply_params",
           "component_effects", "parse_duration", "read_tune_config", "search", "tune", "zoom"]
