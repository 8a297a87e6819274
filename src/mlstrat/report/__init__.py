"""The self-contained HTML report: diagnosis, errors, learning curves, confusion, error
analysis, recommended actions and run history in one offline page (Jinja2 + matplotlib SVG)."""

from mlstrat.report._render import render_report

__all__ = ["render_report"]
