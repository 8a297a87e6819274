"""Exporting recorded runs to MLflow (the ``mlflow`` extra; ``mlflow-skinny`` is enough).

One mlstrat run becomes one MLflow run: params = the flattened config, metrics = every
per-split number and each component of the decomposition (plus the learning curves per
epoch), artifacts = the diagnosis and metrics JSON, the HTML report and the summaries of
tagged sheets, tags = the principal problem and how often the test set has been evaluated.
The mlstrat run id is a tag, so exporting twice finds the first export instead of
duplicating it.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import re
import tempfile
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlstrat._exceptions import ConfigError, MlstratError, MlstratWarning
from mlstrat._numbers import finite_number
from mlstrat.runs._compare import flatten_config
from mlstrat.runs._run import Run
from mlstrat.tables._files import pid_alive

__all__ = ["MlflowExport", "export_to_mlflow", "mlflow_autolog_enabled", "autolog_run", "bounded_http",
           "sqlite_path", "TRACKING_ENV", "HTTP_DEFAULTS"]

TRACKING_ENV = "MLFLOW_TRACKING_URI"
DEFAULT_EXPERIMENT = "mlstrat"
_RUN_TAG = "mlstrat.run_id"
_PARAM_MAX = 6000  # MLflow's limit on a param value
#: MLflow's HTTP settings for mlstrat's calls, unless the user set them: one retry, 10 s per
#: request (MLflow's own defaults wait about four minutes on a server that does not answer)
HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_TIMEOUT": "10", "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
                 "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1"}
_BUILDING = ".mlstrat-building"  # suffix of a database being created (see _prepare_sqlite)
_SPLIT_NUMBERS = ("error", "accuracy", "weighted_error", "precision", "recall", "f1", "n", "errors")


@dataclass(frozen=True)
class MlflowExport:
    """Where a run went: MLflow's run id, its experiment, and whether it was already there."""

    run_id: str
    mlflow_run_id: str
    experiment_id: str
    tracking_uri: str
    created: bool

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "mlflow_run_id": self.mlflow_run_id, "experiment_id": self.experiment_id,
                "tracking_uri": self.tracking_uri, "created": self.created}


def _mlflow() -> Any:
    try:
        import mlflow
    except ImportError:
        raise ConfigError("MLflow is not installed; install the extra: pip install 'mlstrat[mlflow]'") from None
    return mlflow


def run_params(run: Run) -> dict[str, str]:
    """The flattened config (``optim.lr``) and the run's identity, as MLflow params."""
    params = {k: json.dumps(v) if isinstance(v, (list, dict)) else str(v)
              for k, v in flatten_config(run.config or {}).items()}
    params.update({"mlstrat.kind": run.kind, "mlstrat.config_hash": str(run.config_hash),
                   "mlstrat.data_fingerprint": str(run.data_fingerprint)})
    return {k: v[:_PARAM_MAX] for k, v in params.items()}


def run_metrics(run: Run) -> dict[str, float]:
    """``<split>.error``, ``<split>.error_ci_low``, ..., ``component.<name>`` and human level."""
    out: dict[str, float] = {}
    for split, err in run.errors().items():
        for key, name in (("value", "error"), ("ci_low", "error_ci_low"), ("ci_high", "error_ci_high")):
            if (v := finite_number(err.get(key))) is not None:
                out[f"{split}.{name}"] = v
    for split, numbers in ((run.metrics or {}).get("splits") or {}).items():
        for name in _SPLIT_NUMBERS:
            if (v := finite_number(numbers.get(name))) is not None:
                out.setdefault(f"{split}.{name}", v)
    for name, comp in run.components().items():
        for key, suffix in (("value", ""), ("ci_low", "_ci_low"), ("ci_high", "_ci_high")):
            if (v := finite_number(comp.get(key))) is not None:
                out[f"component.{name}{suffix}"] = v
    proxy = (((run.diagnosis or {}).get("human_level") or {}).get("bayes_proxy") or {}).get("value")
    if (v := finite_number(proxy)) is not None:
        out["human_level.bayes_proxy"] = v
    return out


def run_tags(run: Run) -> dict[str, str]:
    diagnosis = run.diagnosis or {}
    tags = {_RUN_TAG: run.id, "mlstrat.kind": run.kind,
            "mlstrat.principal_problem": str(diagnosis.get("principal_problem") or "none")}
    if run.test_evaluations is not None:
        tags["mlstrat.test_set_evaluations"] = str(run.test_evaluations)
    if run.test_fingerprint:
        tags["mlstrat.test_fingerprint"] = run.test_fingerprint
    if diagnosis.get("verdict"):
        tags["mlflow.note.content"] = str(diagnosis["verdict"])
    if run.note:
        tags["mlflow.runName"] = run.note[:250]
    return tags


def _history(run: Run) -> list[dict[str, Any]]:
    if not run.artifacts:
        return []
    path = Path(run.artifacts) / "history.json"
    try:
        epochs = json.loads(path.read_text(encoding="utf-8")).get("epochs") or []
    except (OSError, ValueError, AttributeError):
        return []
    return [e for e in epochs if isinstance(e, dict)]


def _sheets(run: Run, sheets: Iterable[str | os.PathLike]) -> list[Path]:
    """Given sheets, plus the tagged sheets kept in the run directory."""
    found = [Path(s) for s in sheets]
    if run.artifacts and Path(run.artifacts).is_dir():
        found += sorted(p.with_name(p.name[: -len(".meta.json")])
                        for p in Path(run.artifacts).glob("*.csv.meta.json"))
    return list(dict.fromkeys(found))


def _write_artifacts(run: Run, folder: Path, *, sheets: list[Path], report: bool) -> None:
    from mlstrat._json import dumps

    if run.diagnosis:
        (folder / "diagnosis.json").write_text(dumps(run.diagnosis) + "\n", encoding="utf-8")
    if run.metrics:
        (folder / "metrics.json").write_text(dumps(run.metrics) + "\n", encoding="utf-8")
    if run.config:
        (folder / "config.json").write_text(dumps(run.config) + "\n", encoding="utf-8")
    for sheet in sheets:
        from mlstrat.errors import summarize_sheet

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the summary JSON carries its own warnings
            summary = summarize_sheet(sheet)
        (folder / f"error_summary_{sheet.stem}.json").write_text(dumps(summary) + "\n", encoding="utf-8")
    if report and (run.diagnosis or run.metrics):
        from mlstrat.report import render_report

        history = {"epochs": _history(run)} if _history(run) else None
        render_report(runs=[run], history=history, title=f"mlstrat run {run.short_id}",
                      output=folder / "report.html")


def export_to_mlflow(run: Run, *, tracking_uri: str | None = None, experiment: str = DEFAULT_EXPERIMENT,
                     sheets: Iterable[str | os.PathLike] = (), report: bool = True) -> MlflowExport:
    """Log a recorded run to MLflow (once: a second export returns the first complete one).

    An export is complete when its MLflow run is ``FINISHED`` (the last call of an export);
    an earlier export that failed or was killed is deleted and the run exported afresh.
    HTTP calls are bounded (see :func:`bounded_http`), so an unreachable server fails in
    seconds instead of minutes.

    Parameters
    ----------
    run : Run
        A run from :class:`RunStore`.
    tracking_uri : str, default=None
        MLflow tracking URI (``sqlite:///mlflow.db``, ``http://host:5000``, ``databricks``);
        default: ``$MLFLOW_TRACKING_URI``, else MLflow's own default (``sqlite:///mlflow.db``
        in the working directory).
    experiment : str, default="mlstrat"
        The MLflow experiment, created when missing.
    sheets : iterable of path-like, default=()
        Tagged error-analysis sheets whose summaries to attach (sheets kept in the run
        directory are attached too).
    report : bool, default=True
        Attach the HTML report of the run.

    Raises
    ------
    ConfigError
        The URI is mlstrat's run store, or MLflow failed (unknown scheme, missing
        credentials, a folder, an unreachable server, a damaged database): one line naming
        the URI and what to do.
    """
    mlflow = _mlflow()
    uri = tracking_uri or os.environ.get(TRACKING_ENV) or mlflow.get_tracking_uri()
    with bounded_http(), _quiet_mlflow():
        try:
            _prepare_sqlite(uri)
            return _export(run, uri, experiment=experiment, sheets=sheets, report=report)
        except MlstratError:
            raise
        except Exception as exc:  # MLflow, SQLAlchemy, requests: each its own exception types
            raise _failure(uri, exc) from None


def _export(run: Run, uri: str, *, experiment: str, sheets: Iterable[str | os.PathLike],
            report: bool) -> MlflowExport:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    experiment_id = found.experiment_id if found else client.create_experiment(experiment)
    earlier = client.search_runs([experiment_id], filter_string=f"tags.`{_RUN_TAG}` = '{run.id}'")
    complete = [r for r in earlier if r.info.status == "FINISHED"]
    if complete:
        return MlflowExport(run.id, complete[0].info.run_id, experiment_id, uri, created=False)
    for stale in earlier:  # a failed or killed export: never completed, never counted
        client.delete_run(stale.info.run_id)
    created = client.create_run(experiment_id, tags=run_tags(run))
    mlflow_id = created.info.run_id
    try:
        _log_contents(client, mlflow_id, run, start_time=int(created.info.start_time),
                      sheets=_sheets(run, sheets), report=report)
        client.set_terminated(mlflow_id, "FINISHED")  # last: FINISHED means complete
    except BaseException:
        with contextlib.suppress(Exception):  # the server may be the failure
            client.set_terminated(mlflow_id, "FAILED")
        raise
    return MlflowExport(run.id, mlflow_id, experiment_id, uri, created=True)


def _log_contents(client: Any, mlflow_id: str, run: Run, *, start_time: int, sheets: list[Path],
                  report: bool) -> None:
    """Params, metrics (the learning curves as steps), the creation tag and the artifacts."""
    from mlflow.entities import Metric, Param, RunTag

    metrics = [Metric(k, v, start_time, 0) for k, v in run_metrics(run).items()]
    for epoch in _history(run):
        step = int(epoch.get("epoch", 0))
        metrics += [Metric(f"history.{k}", v, start_time, step) for k, val in epoch.items()
                    if k != "epoch" and (v := finite_number(val)) is not None]
    params = [Param(k, v) for k, v in run_params(run).items()]
    client.log_batch(mlflow_id, tags=[RunTag("mlstrat.created_at", run.created_at)])
    for i in range(0, len(params), 100):  # MLflow's limits per batch: 100 params, 1000 metrics
        client.log_batch(mlflow_id, params=params[i:i + 100])
    for i in range(0, len(metrics), 1000):
        client.log_batch(mlflow_id, metrics=metrics[i:i + 1000])
    with tempfile.TemporaryDirectory(prefix="mlstrat-mlflow-") as tmp:
        _write_artifacts(run, Path(tmp), sheets=sheets, report=report)
        client.log_artifacts(mlflow_id, tmp)


@contextlib.contextmanager
def bounded_http() -> Iterator[None]:
    """MLflow's HTTP settings bounded for mlstrat's calls; a user's own setting wins.

    MLflow's defaults (120 s per request, 7 retries with exponential backoff) keep a
    command waiting about four minutes on a server that does not answer. Inside this
    block each ``MLFLOW_HTTP_REQUEST_*`` variable the user has not set takes mlstrat's
    value (:data:`HTTP_DEFAULTS`); the environment is restored on exit.
    """
    added = [name for name in HTTP_DEFAULTS if name not in os.environ]
    for name in added:
        os.environ[name] = HTTP_DEFAULTS[name]
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


@contextlib.contextmanager
def _quiet_mlflow() -> Iterator[None]:
    """MLflow's and Alembic's log lines (migrations, credential fallbacks) held back: a failure
    is mlstrat's one line, a success prints nothing of MLflow's."""
    import logging

    loggers = [logging.getLogger(name) for name in ("mlflow", "alembic", "urllib3")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:`` URI (SQLAlchemy's form), else ``None``."""
    if not uri.lower().startswith("sqlite://"):
        return None
    rest = uri[len("sqlite://"):].split("?", 1)[0]
    if not rest.startswith("/") or rest in ("/", "/:memory:"):
        return None  # sqlite:// alone is an in-memory database
    return Path(rest[1:])  # sqlite:///rel.db -> rel.db, sqlite:////abs.db -> /abs.db


def _is_run_store(path: Path) -> bool:
    """A SQLite file with mlstrat's ``schema_version`` table (read-only look)."""
    import sqlite3

    try:
        conn = sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True)
    except (sqlite3.Error, OSError):
        return False
    try:
        return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
                            ).fetchone() is not None
    except sqlite3.Error:
        return False
    finally:
        conn.close()


def _prepare_sqlite(uri: str) -> None:
    """Refuse mlstrat's run store; build a new MLflow database aside and rename it in place.

    MLflow creates its tables in a dozen migrations; a process killed among them would
    leave a database every later export fails on. Building it under a temporary name and
    renaming it when complete means the file at ``uri`` is either absent or whole.
    """
    path = sqlite_path(uri)
    if path is None:
        return
    if path.exists() and _is_run_store(path):
        raise ConfigError(f"MLflow: {uri} is mlstrat's run store, which holds mlstrat's runs alone; "
                          "export to another database, e.g. --mlflow sqlite:///mlflow.db")
    if path.exists():
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)  # as MLflow itself would
    except OSError as exc:
        raise ConfigError(f"MLflow: {uri}: cannot create the folder {path.parent} ({exc.strerror}); "
                          "choose another database path (--mlflow sqlite:///PATH/mlflow.db)") from None
    _remove_dead_builds(path)
    building = path.with_name(f".{path.name}.{os.getpid()}{_BUILDING}")
    try:
        from mlflow.tracking import MlflowClient

        MlflowClient(tracking_uri=f"sqlite:///{building.resolve()}").get_experiment_by_name("Default")
        with contextlib.suppress(FileExistsError):  # another export may have finished one first
            os.link(building, path)  # atomic, and never replaces a database
    finally:
        building.unlink(missing_ok=True)


def _remove_dead_builds(path: Path) -> None:
    """Temporary databases of exports that were killed while building one."""
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*{_BUILDING}"):
        pid = stale.name[len(path.name) + 2: -len(_BUILDING)]
        if pid.isdigit() and not pid_alive(int(pid)):
            stale.unlink(missing_ok=True)


def _failure(uri: str, exc: BaseException) -> ConfigError:
    """One line naming ``uri``, what went wrong and what to do."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    lowered = text.lower()
    if "unsupported uri" in lowered or "could not find a registered" in lowered:
        fix = "use sqlite:///PATH/mlflow.db, http(s)://HOST:PORT or databricks (--mlflow or MLFLOW_TRACKING_URI)"
        return ConfigError(f"MLflow: {uri} is not a tracking URI MLflow supports; {fix}")
    if "filesystem tracking backend" in lowered:
        return ConfigError(f"MLflow: {uri} is a folder (a file store), which MLflow 3 refuses; use a database "
                           "such as --mlflow sqlite:///mlflow.db (or set MLFLOW_ALLOW_FILE_STORE=true)")
    if "databricks" in lowered and ("credential" in lowered or "authentication" in lowered):
        return ConfigError(f"MLflow: {uri}: no Databricks credentials; set DATABRICKS_HOST and "
                           "DATABRICKS_TOKEN (or run 'databricks auth login')")
    if (reason := _unreachable(exc, text)) is not None:
        return ConfigError(f"MLflow: no tracking server answered at {uri} ({reason}); start it or fix "
                           "the URI (--mlflow or MLFLOW_TRACKING_URI); MLFLOW_HTTP_REQUEST_TIMEOUT sets the wait")
    if (reason := _database_error(exc, text)) is not None:
        return ConfigError(f"MLflow: the database at {uri} cannot be used ({reason}); it may be damaged "
                           "or from another MLflow version: export to a new one (--mlflow sqlite:///NEW.db)")
    return ConfigError(f"MLflow: the export to {uri} failed ({_short(text)}); check the tracking URI "
                       "(--mlflow or MLFLOW_TRACKING_URI)")


#: the cause of an HTTP failure, as requests and urllib3 word it (innermost first)
_HTTP_CAUSES = re.compile(r"read timed out|connect(ion)? timed out|connection refused|name or service not known|"
                          r"temporary failure in name resolution|connection reset by peer|"
                          r"remote end closed connection without response|no route to host", re.IGNORECASE)
#: a database driver's own words inside MLflow's message: "(sqlite3.OperationalError) no such table: x"
_DB_CAUSE = re.compile(r"\((?:sqlite3|psycopg2?|pymysql|pyodbc|MySQLdb)\.\w+\) ([^\[\n]+)")


def _unreachable(exc: BaseException, text: str) -> str | None:
    """What stopped an HTTP call ("Read timed out", "Connection refused"), else ``None``."""
    if (found := _HTTP_CAUSES.search(text)) is not None:
        return found.group(0)
    if type(exc).__module__.split(".")[0] in {"requests", "urllib3"} or "max retries exceeded" in text.lower():
        return _short(text)
    return None


def _database_error(exc: BaseException, text: str) -> str | None:
    """The database driver's reason when a SQL store failed, else ``None``."""
    if (found := _DB_CAUSE.search(text)) is not None:
        return _short(found.group(1).strip())
    if type(exc).__module__.split(".")[0] in {"sqlalchemy", "alembic", "sqlite3"}:
        return _short(text)
    return None


def _short(text: str, limit: int = 240) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


def mlflow_autolog_enabled() -> bool:
    """``$MLFLOW_TRACKING_URI`` is set and MLflow can be imported (without importing it)."""
    import importlib.util

    return bool(os.environ.get(TRACKING_ENV)) and importlib.util.find_spec("mlflow") is not None


def autolog_run(run: Run) -> MlflowExport | None:
    """Export ``run`` when automatic logging is on; a failure warns and never loses the run."""
    if not mlflow_autolog_enabled():
        return None
    try:
        return export_to_mlflow(run)
    except Exception as exc:  # the run is recorded locally already; MLflow is a copy
        reason = str(exc).removeprefix("MLflow: ")
        warnings.warn(f"MLflow export of run {run.short_id} skipped, the run is recorded locally: {reason}; "
                      f"retry with 'mlstrat runs export {run.short_id} --mlflow'", MlstratWarning, stacklevel=2)
        return None

