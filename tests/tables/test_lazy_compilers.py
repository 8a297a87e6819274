"""The DuckDB engine loads without the SQL compilers (and sqlglot dialects) of the other Ibis
backends, and Ibis still finds every compiler it is asked for."""

from __future__ import annotations

import json
import subprocess
import sys

from mlstrat.tables._duckdb import _reexports

_SQL = """
import json, sys
{setup}
import ibis
t = ibis.table({{"a": "int64", "b": "string"}}, name="t")
expr = t.group_by("b").aggregate(n=t.a.sum())
import ibis.backends.sql.compilers as sc
print(json.dumps({{
    "sql": {{d: str(ibis.to_sql(expr, dialect=d)) for d in ("postgres", "trino", "bigquery", "duckdb")}},
    "all": sorted(sc.__all__),
    "classes": sorted(f"{{n}}={{getattr(sc, n).__module__}}" for n in sc.__all__),
    "dialects": sorted(m for m in sys.modules if m.startswith("sqlglot.dialects.")),
}}))
"""


def _run(setup: str) -> dict:
    out = subprocess.run([sys.executable, "-c", _SQL.format(setup=setup)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.splitlines()[-1])


def test_connecting_loads_no_other_backend_dialect():
    code = ("import sys, mlstrat\ncon = mlstrat.connect()\nprint(con.execute(__import__('ibis').literal(1) + 1))\n"
            "print(sorted(m for m in sys.modules if m.startswith(('sqlglot.dialects.', 'ibis.backends.sql.compilers.'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    value, loaded = out.stdout.splitlines()[-2:]
    assert value == "2"
    loaded = set(eval(loaded))  # a list literal printed above
    assert "ibis.backends.sql.compilers.duckdb" in loaded and "sqlglot.dialects.duckdb" in loaded
    for other in ("athena", "trino", "bigquery", "snowflake", "clickhouse", "mssql", "oracle"):
        assert f"ibis.backends.sql.compilers.{other}" not in loaded
        assert f"sqlglot.dialects.{other}" not in loaded


def test_ibis_finds_every_compiler_as_without_mlstrat():
    """Names, classes and the SQL of other dialects are what Ibis's own import gives."""
    plain = _run("")
    lazy = _run("import mlstrat\nmlstrat.connect()")
    assert lazy["sql"] == plain["sql"]
    assert lazy["all"] == plain["all"] and len(plain["all"]) >= 15
    assert lazy["classes"] == plain["classes"]


def test_an_unknown_dialect_is_refused_as_before():
    code = ("import mlstrat, ibis\nmlstrat.connect()\n"
            "try:\n    ibis.to_sql(ibis.memtable({'a': [1]}), dialect='nope')\n"
            "except ValueError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "Unknown dialect nope"


def test_only_a_plain_list_of_reexports_is_made_lazy():
    pkg = "ibis.backends.sql.compilers"
    plain = f'"""doc"""\nfrom __future__ import annotations\n__all__ = ["A", "B"]\nfrom {pkg}.a import A\nfrom {pkg}.b import B\n'
    assert _reexports(plain, pkg) == ({"A": f"{pkg}.a", "B": f"{pkg}.b"}, ["A", "B"])
    for extra in ("x = 1\n", "def f():\n    pass\n", f"from {pkg}.a import A as Z\n", "import os\n",
                  f"from {pkg}.a.deeper import C\n", "from elsewhere import D\n"):
        assert _reexports(plain + extra, pkg) is None, extra
