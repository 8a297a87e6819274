"""The sealed test split on the commands that can show a test figure (``errors sample``,
``errors summarize``, ``labels``): the figure needs ``--test``, and each look is counted in the
run store like ``diagnose --test`` counts it."""

from __future__ import annotations

from typing import Any

from mlstrat._exceptions import ConfigError

__all__ = ["require_test", "count_look", "gate_test_sheets", "sheet_split"]

TEST_HELP = "Allow the test split (sealed by default); each look is counted in the run store."


def require_test(test: bool, *, command: str) -> None:
    """Refuse to show the test split's figures unless ``--test`` was given."""
    if not test:
        raise ConfigError(f"{command} shows figures of the test split, which is sealed; pass --test "
                          "to look at it (each look is counted in the run store), or decide on dev")


def count_look(predictions: Any, *, quiet: bool = False) -> None:
    """Count one look at the test split of ``predictions`` in the run store ($MLSTRAT_STORE or
    the default) and say so on stderr (the reuse warning in yellow)."""
    from mlstrat.cli._common import err_console, safe
    from mlstrat.sealing._looks import count_test_look

    import warnings

    from mlstrat.sealing._ledger import ReusedTestSetWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ReusedTestSetWarning)  # rendered from the look below
        look = count_test_look(str(predictions))
    if look is None:
        return
    for w in look.warnings():
        if w["code"] == "test_set_reused" or not quiet:
            style = "yellow" if w["code"] == "test_set_reused" else "grey50"
            err_console().print(f"[{style}]{safe(w['message'])}[/]", soft_wrap=True)


def gate_test_sheets(sheets: list[Any], *, test: bool, quiet: bool = False) -> None:
    """``errors summarize``: a sheet sampled from the test split shows the test error; it needs
    ``--test``, and counts one look at the predictions it was sampled from (when they are still
    there to fingerprint)."""
    sources = [source for split, source in map(_sheet_origin, sheets) if split == "test"]
    if not sources:
        return
    require_test(test, command="errors summarize of a test-split sheet")
    from pathlib import Path

    for source in dict.fromkeys(sources):  # one look per test set, even with two sheets of it
        if source and Path(source).exists():
            count_look(source, quiet=quiet)


def _sheet_origin(sheet: Any) -> tuple[str | None, str | None]:
    """(the split, the predictions file) a sheet was sampled from, from its meta file; (None,
    None) when there is none to read (``read_sheet`` reports what is wrong with it)."""
    import json

    from mlstrat.errors._sheet import meta_path

    try:
        doc = json.loads(meta_path(sheet).read_text(encoding="utf-8"))
    except (ValueError, OSError):
        return None, None
    if not isinstance(doc, dict):
        return None, None
    split, source = doc.get("split"), doc.get("predictions")
    return (split if isinstance(split, str) else None), (source if isinstance(source, str) else None)


def sheet_split(sheet: Any) -> str | None:
    """The split an error-analysis sheet was sampled from (its meta file), or ``None``."""
    return _sheet_origin(sheet)[0]
