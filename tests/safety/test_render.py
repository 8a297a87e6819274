"""Data printed to the terminal: Rich markup escaped and control characters never sent raw,
at one place (``mlstrat.cli._common.safe`` and the console it returns)."""

import io
import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from mlstrat.cli import app
from mlstrat.cli._common import console, safe, strip_control

runner = CliRunner()
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
MARKUP = ["[/]", "[bold]", "[/bold]", "[red]x[/red]", "\\", "[link=http://x]y", ":100:", "\x1b[31m", "\x07", "\u202e"]
texts = st.one_of(st.text(), st.lists(st.sampled_from(MARKUP) | st.text(max_size=3)).map("".join))


def _expand_tabs_by_cells(text: str, size: int = 8) -> str:
    """Tabs expanded to the next multiple of ``size`` *terminal cells*, as Rich does: a wide
    character (CJK) takes two cells, so ``str.expandtabs``, which counts characters, differs."""
    from rich.cells import cell_len

    lines = []
    for line in text.split("\n"):
        out, column = [], 0
        for ch in line:
            if ch == "\t":
                pad = size - column % size
                out.append(" " * pad)
                column += pad
            else:
                out.append(ch)
                column += cell_len(ch)
        lines.append("".join(out))
    return "\n".join(lines)


def _printed(markup: str, **kw) -> str:
    buf = io.StringIO()
    out = console(file=buf, width=10_000, color_system=None, **kw)
    out.print(markup, soft_wrap=True)
    return buf.getvalue()


@settings(max_examples=400, deadline=None)
@given(texts)
@example("\U00020000\t")  # a wide character before a tab: Rich counts cells, not characters
def test_safe_text_prints_as_itself_with_controls_shown_as_escapes(text):
    printed = _printed(f"[bold]{safe(text)}[/] end")
    assert printed == _expand_tabs_by_cells(strip_control(text) + " end") + "\n"
    assert not CONTROL.search(printed.replace("\n", "").replace("\t", ""))


@settings(max_examples=200, deadline=None)
@given(texts)
def test_the_console_cleans_text_it_did_not_escape(text):
    from rich.text import Text

    buf = io.StringIO()
    console(file=buf, width=10_000, color_system="truecolor", force_terminal=True).print(Text(text, style="bold"))
    raw = buf.getvalue()
    without_styles = re.sub(r"\x1b\[[0-9;]*m", "", raw)  # the console's own colour codes
    assert not CONTROL.search(without_styles.replace("\n", "").replace("\t", ""))


def test_strip_control_shows_escapes():
    assert strip_control("a\x1b[2Jb\x07\u202ec\n\td") == "a\\x1b[2Jb\\x07\\u202ec\n\td"


@pytest.fixture
def marked(tmp_path):
    labels = ["[/]", "[bold]x", "a\x1b[31mred", ":100:"]
    rows = ["id,split,y_true,y_pred,proba_[/],proba_[bold]x,proba_a\x1b[31mred,proba_:100:,[/]col\x1b"]
    for i in range(400):
        split = ["train", "train_dev", "dev", "test"][i % 4]
        true = labels[i % 4]
        pred = labels[(i + (i % 3 == 0)) % 4]
        p = [0.1] * 4
        p[labels.index(pred)] = 0.7
        rows.append(f'"id[/]{i}\x1b",{split},"{true}","{pred}",' + ",".join(map(str, p)) + ",x")
    path = tmp_path / "p.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize("args", [
    ["metrics", "{p}"],
    ["diagnose", "{p}", "--no-record"],
    ["labels", "{p}"],
    ["errors", "sample", "{p}", "-o", "{d}/sheet.csv", "--categories", "[/]x,[bold]y,\x1b[2J"],
    ["split", "{p}", "--label", "y_true", "--domain", "[/]col\x1b", "-o", "{d}/s.parquet"],
])
def test_commands_print_markup_and_escapes_from_data_verbatim(marked, args):
    res = runner.invoke(app, [a.format(p=marked, d=marked.parent) for a in args])
    assert res.exit_code == 0, res.output
    assert res.exception is None
    assert "\x1b" not in res.output
    if args[0] == "errors":
        res = runner.invoke(app, ["errors", "summarize", str(marked.parent / "sheet.csv")])
        assert res.exit_code == 0 and "[/]x" in res.output and "\\x1b[2J" in res.output, res.output
