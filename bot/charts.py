"""Bar charts of expense statistics as PNG images (matplotlib, no display, CJK font)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

# The Agg canvas is used directly: no display, no pyplot state shared between threads.
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties

from core.domain.money import format_amount

Series = Sequence[tuple[str, Decimal]]
BAR_COLOR = "#3b7dd8"


@dataclass(frozen=True)
class Chart:
    """The image, the amounts it was given, and the bar lengths read back from the figure."""

    png: bytes
    panels: list[tuple[str, list[tuple[str, Decimal]]]]
    drawn: list[list[tuple[str, float]]]


@cache
def cjk_font() -> FontProperties:
    """Noto Sans CJK when installed (names, categories and stages are often Chinese)."""
    try:
        from noto_cjk_sans_jp_regular import FONT_PATH
        return FontProperties(fname=str(FONT_PATH))
    except ImportError:
        return FontProperties()


def bar_chart(title: str, panels: Sequence[tuple[str, Series]], currency: str) -> Chart:
    """One horizontal bar chart per panel, largest on top, each bar labelled with its amount.

    Amounts become floats only here, to be drawn; the labels show the exact Decimals.
    """
    shown = [(name, list(series)) for name, series in panels if series]
    font = cjk_font()
    height = sum(1.2 + 0.42 * len(series) for _, series in shown) + 0.8
    figure = Figure(figsize=(8, max(height, 2.5)), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    figure.suptitle(title, fontproperties=font, fontsize=13)
    ratios = [max(len(series), 1) + 1 for _, series in shown] or [1]
    axes = figure.subplots(len(shown) or 1, 1, squeeze=False, height_ratios=ratios)[:, 0]
    drawn = []
    for ax, (name, series) in zip(axes, shown, strict=False):
        labels = [label for label, _ in series][::-1]
        values = [float(amount) for _, amount in series][::-1]
        bars = ax.barh(range(len(values)), values, color=BAR_COLOR)
        ax.set_yticks(range(len(labels)), labels, fontproperties=font)
        ax.bar_label(bars, [format_amount(amount) for _, amount in series][::-1],
                     padding=3, fontproperties=font, fontsize=8)
        ax.set_title(name, fontproperties=font, loc="left", fontsize=11)
        ax.set_xlabel(currency, fontproperties=font)
        ax.margins(x=0.22)
        ax.spines[["top", "right"]].set_visible(False)
        drawn.append([(tick.get_text(), float(bar.get_width()))
                      for tick, bar in zip(ax.get_yticklabels(), bars, strict=True)][::-1])
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return Chart(buffer.getvalue(), shown, drawn)
