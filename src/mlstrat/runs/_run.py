"""A recorded run (its documents are read by :mod:`mlstrat.display._documents`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlstrat.display._documents import components_of, split_errors

__all__ = ["Run"]


@dataclass(frozen=True)
class Run:
    """One recorded experiment.

    Attributes
    ----------
    id : str
        12 hexadecimal characters; any unique prefix names the run.
    created_at : str
        ISO 8601 time in UTC.
    kind : str
        What produced it: ``"train"``, ``"diagnose"``, ``"demo"``, ...
    config : dict or None
        The configuration as given (nested TOML sections stay nested).
    config_hash : str or None
        ``"sha256:<hex>"`` of the canonical JSON of ``config``.
    data_fingerprint : str or None
        Fingerprint of the data the run used (e.g. :func:`mlstrat.tables.fingerprint`).
    metrics : dict or None
        The metrics JSON (``{"splits": {...}}``).
    diagnosis : dict or None
        The diagnosis JSON.
    artifacts : str or None
        Absolute path of the run's artifacts (run directory).
    note : str or None
        Free text from the user.
    test_fingerprint : str or None
        Fingerprint of the test set the run evaluated.
    test_evaluations : int or None
        How many evaluations that test set had counted when this run was recorded
        (``None`` when the run did not evaluate a test split).
    seq : int
        Insertion order in the store (1, 2, ...).
    """

    id: str
    created_at: str
    kind: str
    config: dict[str, Any] | None = None
    config_hash: str | None = None
    data_fingerprint: str | None = None
    metrics: dict[str, Any] | None = None
    diagnosis: dict[str, Any] | None = None
    artifacts: str | None = None
    note: str | None = None
    test_fingerprint: str | None = None
    test_evaluations: int | None = None
    seq: int = 0

    @property
    def short_id(self) -> str:
        """The first 8 characters of the id (what tables show)."""
        return self.id[:8]

    def errors(self) -> dict[str, dict[str, Any]]:
        """Per split ``{"value", "ci_low", "ci_high", "n"}`` from the diagnosis, else the metrics."""
        return split_errors(self.diagnosis, self.metrics)

    def components(self) -> dict[str, dict[str, Any]]:
        """The decomposition's components (empty without a diagnosis)."""
        return components_of(self.diagnosis)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "seq": self.seq, "created_at": self.created_at, "kind": self.kind,
            "note": self.note, "config": self.config, "config_hash": self.config_hash,
            "data_fingerprint": self.data_fingerprint, "test_fingerprint": self.test_fingerprint,
            "test_evaluations": self.test_evaluations, "artifacts": self.artifacts,
            "metrics": self.metrics, "diagnosis": self.diagnosis,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Run":
        """Inverse of :meth:`to_dict` (unknown keys are ignored)."""
        fields = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in fields})
