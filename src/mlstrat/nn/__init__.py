"""PyTorch trainer with the method's knobs (docs/method.md §5-7): normalization from train only,
He/Xavier/Glorot init, L2/L1, inverted dropout, gd/momentum/RMSprop/Adam, early stopping with
best-weight restore, augmentation, transfer and multi-task learning, and gradient checking.

The only mlstrat package that imports torch.
"""

from mlstrat.nn._config import (
    DataConfig,
    EarlyStoppingConfig,
    ModelConfig,
    MultitaskConfig,
    OptimConfig,
    RegularizationConfig,
    TrainConfig,
    TransferConfig,
)
from mlstrat.nn._gradcheck import GradcheckResult, ParameterCheck, gradcheck, gradcheck_config
from mlstrat.nn._lr_find import LrFindResult, lr_find
from mlstrat.nn._outputs import TrainResult
from mlstrat.nn._predict import predict
from mlstrat.nn._train import train

__all__ = [
    "DataConfig",
    "EarlyStoppingConfig",
    "GradcheckResult",
    "LrFindResult",
    "ModelConfig",
    "MultitaskConfig",
    "OptimConfig",
    "ParameterCheck",
    "RegularizationConfig",
    "TrainConfig",
    "TrainResult",
    "TransferConfig",
    "gradcheck",
    "gradcheck_config",
    "lr_find",
    "predict",
    "train",
]
