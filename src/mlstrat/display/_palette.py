"""One colour per split and one per component, everywhere: the report's CSS and charts, the
notebook and the terminal (Rich styles) all read them here.

Splits are cool colours (green for the human level, blues, violet, slate), components warm ones
(orange, raspberry, ochre, grape), so a chart never uses one colour for both a split and a
component. Every colour carries white text at WCAG AA (4.5:1), and the muted text colour reads
at 4.5:1 on the page's background and on a card.
"""

from __future__ import annotations

__all__ = ["SPLIT_COLOURS", "COMPONENT_COLOURS", "UI_COLOURS", "PALETTE", "rich_style", "css_variables",
           "contrast_ratio"]

SPLIT_COLOURS: dict[str, str] = {
    "human": "#2b7a3b",
    "train": "#1864ab",
    "train_dev": "#0b7285",
    "dev": "#5f3dc4",
    "test": "#495057",
}

COMPONENT_COLOURS: dict[str, str] = {
    "avoidable_bias": "#c2410c",
    "variance": "#a61e4d",
    "data_mismatch": "#8f5b00",
    "dev_overfitting": "#862e9c",
}

UI_COLOURS: dict[str, str] = {
    "ink": "#212529",
    "muted": "#555d65",   # secondary text, footers: 4.5:1 or more on bg and card
    "faint": "#adb5bd",   # decoration only (rules, empty strips), never text
    "line": "#dee2e6",
    "grid": "#dee2e6",
    "bg": "#f4f5f7",
    "card": "#ffffff",
    "base": "#e9ecef",
    "gap": "#868e96",
}

#: Every named colour (splits, components, page), the charts' single source.
PALETTE: dict[str, str] = {**UI_COLOURS, **SPLIT_COLOURS, **COMPONENT_COLOURS}


def rich_style(name: str, *, bold: bool = False) -> str:
    """The Rich style of a split, component or page colour (``"#c2410c"``, ``"bold #c2410c"``)."""
    colour = PALETTE.get(name, UI_COLOURS["gap"])
    return f"bold {colour}" if bold else colour


def css_variables() -> str:
    """``--c-<name>: #hex;`` for every colour, for the report's ``:root``."""
    return " ".join(f"--c-{name.replace('_', '-')}: {hex_};" for name, hex_ in PALETTE.items())


def _luminance(hex_colour: str) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    h = hex_colour.lstrip("#")
    r, g, b = (channel(int(h[i:i + 2], 16) / 255) for i in (0, 2, 4))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(foreground: str, background: str) -> float:
    """The WCAG 2 contrast ratio of two ``#rrggbb`` colours (1 to 21)."""
    a, b = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (a + 0.05) / (b + 0.05)
