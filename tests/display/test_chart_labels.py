"""Chart labels are user data (category names, class labels, run names): drawn as written,
never parsed as mathtext."""

from __future__ import annotations

from mlstrat.display._charts import confusion_svg, error_analysis_svg


def test_dollar_signs_in_category_names_are_drawn_as_text() -> None:
    # an unbalanced "\frac{" between two dollars is a mathtext syntax error
    svg = error_analysis_svg([{"name": r"price $\frac{a$ typo", "ceiling": 0.1, "share": 0.5},
                              {"name": "costs $5 and $6", "ceiling": 0.05, "share": 0.2}], split_error=0.2)
    # matplotlib names each drawn text in a comment: the literal string, not a formula
    assert r"<!-- price $\frac{a$ typo -->" in svg
    assert "<!-- costs $5 and $6 -->" in svg


def test_dollar_signs_in_class_labels_are_drawn_as_text() -> None:
    svg = confusion_svg([r"$\frac{$", "b"], [[3, 1], [0, 4]], split="dev")
    assert r"<!-- $\frac{$ -->" in svg
