"""One colour per split and per component, shared by the report, the charts and the terminal;
text colours meet WCAG AA."""

from __future__ import annotations

import re

import pytest

from mlstrat.display._palette import (COMPONENT_COLOURS, PALETTE, SPLIT_COLOURS, UI_COLOURS, contrast_ratio,
                                      rich_style)


def _brute_contrast(a: str, b: str) -> float:
    # the WCAG 2.1 definition, written out independently of the module
    def lum(h: str) -> float:
        vals = []
        for i in (1, 3, 5):
            c = int(h[i:i + 2], 16) / 255
            vals.append(c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4)
        return 0.2126 * vals[0] + 0.7152 * vals[1] + 0.0722 * vals[2]
    hi, lo = max(lum(a), lum(b)), min(lum(a), lum(b))
    return (hi + 0.05) / (lo + 0.05)


def test_contrast_ratio_matches_the_definition() -> None:
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast_ratio("#777777", "#ffffff") == pytest.approx(_brute_contrast("#777777", "#ffffff"))
    assert contrast_ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)


def test_every_colour_is_its_own() -> None:
    colours = list(SPLIT_COLOURS.values()) + list(COMPONENT_COLOURS.values())
    assert len(set(colours)) == len(colours)


@pytest.mark.parametrize("background", ["bg", "card"])
def test_muted_and_ink_text_meet_wcag_aa(background: str) -> None:
    for text in ("muted", "ink"):
        assert _brute_contrast(UI_COLOURS[text], UI_COLOURS[background]) >= 4.5, text


def test_white_text_on_every_chip_meets_wcag_aa() -> None:
    for name, colour in {**SPLIT_COLOURS, **COMPONENT_COLOURS}.items():
        assert _brute_contrast("#ffffff", colour) >= 4.5, name


def test_the_report_and_the_terminal_use_the_palette() -> None:
    from tests.report.fixtures import DIAGNOSIS
    from mlstrat.report import render_report

    html = render_report(diagnosis=DIAGNOSIS)
    for name, colour in PALETTE.items():
        assert f"--c-{name.replace('_', '-')}: {colour};" in html
    footer_rule = re.search(r"footer \{ color: ([^;]+);", html)
    assert footer_rule and footer_rule.group(1) == "var(--muted)"
    assert "--muted: var(--c-muted)" in html
    from mlstrat.diagnosis import _render
    assert _render._COLORS["variance"] == rich_style("variance") == COMPONENT_COLOURS["variance"]


def test_the_terminal_diagnosis_colours_splits_and_components_like_the_report() -> None:
    from rich.text import Text

    from mlstrat.diagnosis import diagnose
    from mlstrat.diagnosis._render import render_diagnosis

    diag = diagnose(errors={"train": 0.08, "train_dev": 0.09, "dev": 0.15},
                    sizes={"train": 5000, "train_dev": 1000, "dev": 1000}, human="2%")
    errors, comps = render_diagnosis(diag)[:2]
    comps = comps.candidates[0]  # the wide layout (the narrow one writes the gap under the name)
    split_styles = {str(c.plain): str(c.style) for c in errors.columns[0]._cells if isinstance(c, Text)}
    assert split_styles["dev"] == SPLIT_COLOURS["dev"] and split_styles["train-dev"] == SPLIT_COLOURS["train_dev"]
    comp_styles = {str(c.plain): str(c.style) for c in comps.columns[0]._cells if isinstance(c, Text)}
    assert comp_styles["data mismatch"] == COMPONENT_COLOURS["data_mismatch"]
