"""PyTorch Lightning in the method's loop: a callback that writes predictions tables for
train / train-dev / dev, records the run with its history and diagnosis, and prints the
verdict when fit ends. Needs the ``lightning`` extra; ``import mlstrat`` never imports it.

The public name of :mod:`mlstrat.integrations.lightning`, where the callback lives."""

from mlstrat.integrations.lightning import MlstratCallback

__all__ = ["MlstratCallback"]
