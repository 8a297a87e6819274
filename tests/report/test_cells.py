"""Each body cell of the report names its column, for the phone layout (report._cells)."""

from mlstrat.report import render_report
from mlstrat.report._cells import label_cells
from tests.report.fixtures import ERROR_SUMMARY


def test_each_cell_gets_its_column_header():
    page = ("<table><thead><tr><th>split</th><th class=\"num\">95% interval</th></tr></thead>"
            "<tbody><tr><td>dev</td><td class=\"num\">[1.0%, 2.0%]</td></tr></tbody></table>")
    assert label_cells(page) == (
        "<table><thead><tr><th>split</th><th class=\"num\">95% interval</th></tr></thead>"
        "<tbody><tr><td data-label=\"split\">dev</td><td data-label=\"95% interval\" class=\"num\">[1.0%, 2.0%]</td>"
        "</tr></tbody></table>")


def test_header_markup_and_quotes_become_a_safe_attribute():
    page = ('<table><thead><tr><th>mean: training &rarr; "target"</th><th></th></tr></thead>'
            "<tr><td>a</td><td>b</td><td>c</td></tr></table>")
    assert label_cells(page) == (
        '<table><thead><tr><th>mean: training &rarr; "target"</th><th></th></tr></thead>'
        '<tr><td data-label="mean: training → &quot;target&quot;">a</td><td data-label="">b</td>'
        '<td data-label="">c</td></tr></table>')


def test_a_table_without_header_and_user_text_are_left_alone():
    page = "<table><tr><td>x</td></tr></table><p>&lt;td&gt; &lt;table&gt;</p>"
    assert label_cells(page) == page


def test_user_text_in_a_category_stays_escaped(tmp_path):
    summary = {**ERROR_SUMMARY, "categories": [
        {**ERROR_SUMMARY["categories"][0], "name": '<td data-label="x"><script>alert(1)</script>'}]}
    html = render_report(error_summary=summary)
    assert "<script>alert(1)" not in html
    assert ('<td data-label="category">&lt;td data-label=&#34;x&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;</td>'
            in html)
