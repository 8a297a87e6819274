"""Hugging Face Transformers in the method's loop: a ``TrainerCallback`` that predicts train /
train-dev / dev after every epoch, writes the predictions table, records the run with its
history and diagnosis, and prints the verdict when training ends. Needs the ``huggingface``
extra; ``import mlstrat`` never imports Transformers."""

from mlstrat.integrations.huggingface._callback import MlstratCallback

__all__ = ["MlstratCallback"]
