"""The self-contained HTML report: diagnosis, errors, learning curves, confusion, error
analysis, recommended actions and run history in one offline page (Jinja2 + matplotlib SVG)."""

from mlstrat.report._render import render_report
from mlstrat.report._inputs import ReportInputs, report_inputs

__all__ = ["ReportInputs", "render_report", "report_inputs"]
