"""mlstrat wired into other tools: MLflow (export of recorded runs), scikit-learn
(:mod:`mlstrat.sklearn`), PyTorch Lightning (:mod:`mlstrat.lightning`) and Hugging Face
Transformers (:mod:`mlstrat.integrations.huggingface`).

Each bridge imports its library only when used: ``import mlstrat`` loads none of them. This
layer sits above the capabilities it wires together, below the CLI.
"""

from __future__ import annotations

from mlstrat._lazy import lazy_names as _lazy_names

__all__ = ["MlflowExport", "autolog_run", "export_to_mlflow", "mlflow_autolog_enabled"]

# public name -> the module of this package that defines it
_WHERE: dict[str, str] = {
    "MlflowExport": "._mlflow",
    "autolog_run": "._mlflow",
    "export_to_mlflow": "._mlflow",
    "mlflow_autolog_enabled": "._mlflow",
}

__getattr__, __dir__ = _lazy_names(__name__, _WHERE, globals())
