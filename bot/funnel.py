"""The pipeline's funnel as a PNG image (matplotlib, no display, CJK font)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

# The Agg canvas is used directly: no display, no pyplot state shared between threads.
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bot.charts import cjk_font
from core.domain.money import format_amount

FUNNEL_COLOR = "#3b7dd8"
WON_COLOR = "#2e9d5b"


@dataclass(frozen=True)
class FunnelStep:
    label: str
    count: int
    amount: Decimal
    won: bool = False


@dataclass(frozen=True)
class FunnelChart:
    """The image, and what was drawn read back from the figure: (label, width, text)."""

    png: bytes
    drawn: list[tuple[str, float, str]]


def step_text(step: FunnelStep) -> str:
    """What a bar says: the count and the exact amount, as the table shows them."""
    return f"{step.count} · {format_amount(step.amount)}"


def funnel_chart(title: str, steps: Sequence[FunnelStep], currency: str) -> FunnelChart:
    """One centred bar per stage, top to bottom, as wide as its amount.

    Amounts become floats only here, to be drawn; the labels show the exact Decimals.
    """
    font = cjk_font()
    figure = Figure(figsize=(8, 1.2 + 0.55 * max(len(steps), 1)), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    figure.suptitle(title, fontproperties=font, fontsize=13)
    ax = figure.subplots()
    widths = [float(step.amount) for step in steps]
    widest = max(widths, default=0.0) or 1.0
    positions = list(range(len(steps)))[::-1]
    bars = ax.barh(positions, widths, left=[(widest - w) / 2 for w in widths],
                   color=[WON_COLOR if step.won else FUNNEL_COLOR for step in steps])
    ax.set_yticks(positions, [step.label for step in steps], fontproperties=font)
    texts = [step_text(step) for step in steps]
    for bar, text in zip(bars, texts, strict=True):
        ax.text(widest / 2, bar.get_y() + bar.get_height() / 2, text, ha="center",
                va="center", fontproperties=font, fontsize=9,
                bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none", "pad": 1.5})
    ax.set_xlim(0, widest)
    ax.set_xticks([])
    ax.set_xlabel(currency, fontproperties=font)
    ax.spines[["top", "right", "bottom"]].set_visible(False)
    labels = {tick.get_position()[1]: tick.get_text() for tick in ax.get_yticklabels()}
    drawn = [(labels[position], float(bar.get_width()), text)
             for position, bar, text in zip(positions, bars, texts, strict=True)]
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return FunnelChart(buffer.getvalue(), drawn)
