"""PyTorch Lightning in the method's loop: a callback that writes predictions tables for
train / train-dev / dev, records the run with its history and diagnosis, and prints the
verdict when fit ends. Needs the ``lightning`` extra; ``import mlstrat`` never imports it."""

from mlstrat.integrations.lightning._callback import MlstratCallback

__all__ = ["MlstratCallback"]
