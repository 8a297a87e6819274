"""Start-up of the command line: only the invoked command is built and imported, Typer's
Pydantic coercion stays unloaded for text options, and help still lists every command.

Timings are measured by benchmarks/startup_bench.py, not here: these tests check what a
command imports, which is what its start-up time follows."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from typer.testing import CliRunner

import mlstrat.cli
from mlstrat.cli import app
from mlstrat.cli._app import COMMANDS
from tests._probe import modules_of_command, top_packages

#: the commands `mlstrat --help` listed, in this order, when every module was imported eagerly
LISTED = ["curve", "demo", "diagnose", "gradcheck", "labels", "metrics", "mismatch", "report", "select",
          "split", "synth", "train", "predict", "lr-find", "tune", "errors", "runs", "threshold", "check", "leakage"]
SUBCOMMANDS = {"errors": ["sample", "summarize", "ui"], "runs": ["list", "show", "compare", "export"]}


def test_bare_figures_import_no_engine_no_pydantic_no_other_command(tmp_path):
    loaded = modules_of_command(["diagnose", "--errors", "train=1%,dev=10%", "--human", "0.5%"], tmp_path)
    heavy = {"ibis", "duckdb", "pyarrow", "pandas", "numpy", "sqlglot", "pydantic", "pydantic_core",
             "torch", "sklearn", "matplotlib", "click"}
    assert top_packages(loaded) & heavy == set()
    assert {m for m in loaded if m.startswith("mlstrat.cli.")} <= {
        "mlstrat.cli._app", "mlstrat.cli._common", "mlstrat.cli._coercion", "mlstrat.cli._flags",
        "mlstrat.cli.diagnose"}
    assert "mlstrat.runs" not in loaded  # nothing is recorded from bare figures


def test_metrics_imports_its_own_command_only(tmp_path):
    pred = tmp_path / "pred.csv"
    pred.write_text("id,split,y_true,y_pred\n1,train,a,a\n2,train,b,b\n3,dev,a,b\n4,dev,b,b\n")
    loaded = modules_of_command(["metrics", str(pred)], tmp_path)
    assert {"duckdb", "ibis", "pyarrow"} <= top_packages(loaded)
    assert top_packages(loaded) & {"pandas", "pydantic", "torch", "sklearn", "matplotlib"} == set()
    assert {m for m in loaded if m.startswith("mlstrat.cli.")} == {
        "mlstrat.cli._app", "mlstrat.cli._common", "mlstrat.cli._coercion", "mlstrat.cli._flags",
        "mlstrat.cli.metrics"}


def test_every_command_module_is_listed():
    """A command added to a module of mlstrat.cli must be named in COMMANDS, or help misses it."""
    for info in pkgutil.iter_modules(mlstrat.cli.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"mlstrat.cli.{info.name}")
    registered = {i.name for i in app.registered_commands} | {g.name for g in app.registered_groups}
    assert registered == set(COMMANDS)
    callbacks = {i.name: i.callback for i in app.registered_commands}
    callbacks |= {g.name: g.typer_instance.registered_commands[0].callback for g in app.registered_groups}
    for name, module in COMMANDS.items():  # the module named is the one that defines it
        assert callbacks[name].__module__ == f"mlstrat.cli.{module}", name


def test_help_lists_the_same_commands_in_the_same_order():
    res = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0
    listed = [line.split()[1] for line in res.stdout.splitlines()
              if line.startswith("│ ") and len(line.split()) > 2 and line.split()[1] in COMMANDS]
    assert listed == LISTED
    for name in LISTED:  # each with its one-line help
        assert any(line.split()[1:2] == [name] and len(line.split()) > 3 for line in res.stdout.splitlines())


@pytest.mark.parametrize("command", [[c] for c in LISTED] + [[g, s] for g, subs in SUBCOMMANDS.items()
                                                             for s in subs], ids=" ".join)
def test_every_command_help_works(command):
    res = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert f"Usage: mlstrat {' '.join(command)}" in " ".join(res.stdout.split())


def test_group_help_lists_its_subcommands():
    for group, subs in SUBCOMMANDS.items():
        res = CliRunner().invoke(app, [group, "--help"], env={"COLUMNS": "200"})
        assert res.exit_code == 0
        for sub in subs:
            assert f"│ {sub} " in res.stdout


def test_a_mistyped_command_is_still_suggested():
    res = CliRunner().invoke(app, ["metrix", "p.csv"], env={"COLUMNS": "200"})
    assert res.exit_code == 2
    assert "No such command 'metrix'. Did you mean 'metrics'?" in res.output


def _outcome(runtime, value, param):
    """The coerced value and its type, or the error message."""
    try:
        out = runtime._coerce_value(value, param=param, ctx=None)
    except Exception as exc:  # Typer's BadParameter: its message is what the user reads
        return ("error", type(exc).__name__, str(exc))
    return ("value", out, type(out))


def test_deferred_coercion_gives_what_typer_gives():
    """Each option's value comes out as Typer's own (Pydantic) coercion makes it."""
    from typer._coercion import build_runtime_param

    from mlstrat.cli._app import load_command
    from mlstrat.cli._coercion import _DeferredCoercion

    samples = {str: ["a b", "0.5%", "", "--x", "caf\udce9.csv"], list[str]: [(), ("x",), ("a", "b c")],
               int: ["3", "-1"], float: ["0.25", "1e-3"]}
    checked = 0
    for name in COMMANDS:
        command = load_command(name)
        for cmd in [command, *getattr(command, "commands", {}).values()]:
            for param in cmd.params:
                desc = param.type_descriptor
                runtime = param.get_runtime_param()
                assert isinstance(runtime, _DeferredCoercion), (name, param.name)
                for value in samples.get(desc.annotation, []):
                    ours = _outcome(runtime, value, param)
                    typers = _outcome(build_runtime_param(desc), value, param)
                    assert ours == typers, (name, param.name, value)
                    checked += 1
    assert checked > 200


def test_a_bad_number_is_refused_as_typer_refuses_it(tmp_path):
    res = CliRunner().invoke(app, ["labels", str(tmp_path / "p.csv"), "--top", "x"], env={"COLUMNS": "200"})
    assert res.exit_code == 2
    assert "Invalid value for '--top': Input should be a valid integer" in res.output
