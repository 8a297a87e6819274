"""Data mismatch: how train differs from dev (domain classifier) and data synthesis.

NumPy-only at import time: scikit-learn, SciPy, Pillow and soundfile load inside functions.
"""

from mlstrat.mismatch._auc import Auc, delong_auc
from mlstrat.mismatch._domain import analyze_mismatch
from mlstrat.mismatch._result import ErrorComparison, FeatureShift, MismatchReport
from mlstrat.mismatch._stats import IMAGE_STATS, image_statistics
from mlstrat.mismatch._synth import (
    AUDIO_TRANSFORMS,
    Calibration,
    PoolUsage,
    SynthResult,
    synthesize,
)
from mlstrat.mismatch.transforms import TRANSFORMS, apply_transforms

__all__ = [
    "AUDIO_TRANSFORMS",
    "IMAGE_STATS",
    "TRANSFORMS",
    "Auc",
    "Calibration",
    "ErrorComparison",
    "FeatureShift",
    "MismatchReport",
    "PoolUsage",
    "SynthResult",
    "analyze_mismatch",
    "apply_transforms",
    "delong_auc",
    "image_statistics",
    "synthesize",
]
