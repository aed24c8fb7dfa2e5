"""The maturity profile as a PNG: average level per theme, optionally against a previous review.

Drawn on a bare `matplotlib.figure.Figure` with its own Agg canvas: no pyplot, no global
backend switch, no rcParams changes, so charts can be rendered from several threads at once
(Slack and Teams handlers, the weekly digest). The image is always 1600x900 pixels.

Titles are drawn as plain text: control characters removed (`bot.sanitise.clean_text`) and
"$" never read as mathtext, where a review title such as "$\\foo$" (unknown TeX) would fail the
drawing and so the Word export.
"""

from __future__ import annotations

import io
import re
import textwrap

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bot.sanitise import clean_data
from workflows.plan import Summary, ThemeProfile

WIDTH_IN, HEIGHT_IN, DPI = 8.0, 4.5, 200  # 1600 x 900 pixels
SIZE = (int(WIDTH_IN * DPI), int(HEIGHT_IN * DPI))

CURRENT_COLOUR = "#1f5f8b"
PREVIOUS_COLOUR = "#b8c4ce"
UP_COLOUR = "#2e7d32"
DOWN_COLOUR = "#c62828"
TEXT_COLOUR = "#333333"

_CUT = re.compile(r",\s|\s+and\s|\s\(|:\s")

# Where the heuristic below reads badly (the college edition's theme 1 opens with adjectives).
_SHORT_TITLES = {
    "Sustainable, Strategic and Embedded Careers Leadership, Vision and Intent, and Planning "
    "for Development": "Careers Leadership",
}


def short_theme_title(title: str, width: int = 20, max_lines: int = 3) -> str:
    """A theme title short enough for an axis label, wrapped: "Careers Leadership".

    After a colon's lead-in ("Learner centred, ...: Addressing the needs ..."), the title is
    cut at its first comma, " and ", "(" or colon that leaves at least 12 characters, then
    wrapped to `width` characters on at most `max_lines` lines.
    """
    short = " ".join(title.split())
    short = _SHORT_TITLES.get(short, short)
    if ": " in short:
        short = short.split(": ", 1)[1]
    for match in _CUT.finditer(short):
        if match.start() >= 12:
            short = short[: match.start()]
            break
    lines = textwrap.wrap(short, width=width, max_lines=max_lines, placeholder="…")
    return "\n".join(lines)


def _level_text(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def maturity_chart(summary: Summary, previous: Summary | None = None) -> bytes:
    """PNG bytes of the maturity profile by theme (0-4 axis), 1600x900 at 200 dpi.

    Each bar is a theme's average level, annotated with the average and how many of its
    statements were answered ("2.3", "7/7 answered"). With `previous`, that review's averages
    are drawn beside them as "previous review" and the change is written above each pair.
    """
    summary, previous = clean_data(summary), clean_data(previous)
    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)  # the Agg canvas, explicitly, for this figure only
    ax = fig.add_subplot()

    themes = summary.themes
    earlier: dict[int, ThemeProfile] = (
        {t.number: t for t in previous.themes} if previous is not None else {}
    )
    positions = list(range(len(themes)))
    width = 0.38 if previous is not None else 0.6
    offset = width / 2 if previous is not None else 0.0

    current = [t.average_level or 0.0 for t in themes]
    if previous is not None:
        before = [
            (earlier[t.number].average_level or 0.0) if t.number in earlier else 0.0 for t in themes
        ]
        ax.bar(
            [p - offset for p in positions],
            before,
            width=width,
            color=PREVIOUS_COLOUR,
            label="previous review",
            zorder=2,
        )
    ax.bar(
        [p + offset for p in positions],
        current,
        width=width,
        color=CURRENT_COLOUR,
        label="this review",
        zorder=2,
    )

    for position, theme in zip(positions, themes, strict=True):
        x = position + offset
        height = theme.average_level or 0.0
        ax.annotate(
            f"{_level_text(theme.average_level)}\n{theme.answered}/{theme.total} answered",
            (x, height),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=6.5,
            color=TEXT_COLOUR,
            linespacing=1.1,
        )
        before_theme = earlier.get(theme.number)
        if previous is not None and before_theme is not None:
            old = before_theme.average_level
            ax.annotate(
                _level_text(old),
                (position - offset, old or 0.0),
                xytext=(0, 3),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=6.5,
                color="#6b7a88",
            )
            if old is not None and theme.average_level is not None:
                change = round(theme.average_level - old, 1)
                colour = UP_COLOUR if change > 0 else DOWN_COLOUR if change < 0 else TEXT_COLOUR
                ax.text(
                    position,
                    4.35,
                    f"{change:+.1f}" if change else "±0",
                    ha="center",
                    va="center",
                    fontsize=7,
                    fontweight="bold",
                    color=colour,
                )

    ax.set_xticks(
        positions,
        [f"{t.number}. {short_theme_title(t.title)}" for t in themes],
        fontsize=6.5,
        color=TEXT_COLOUR,
        parse_math=False,
    )
    ax.tick_params(axis="x", length=0)
    ax.set_ylim(0, 4.6 if previous is not None else 4.4)
    ax.set_yticks([0, 1, 2, 3, 4], ["0", "1", "2", "3", "4"], fontsize=7)
    ax.set_ylabel("Average level (1-4)", fontsize=7.5, color=TEXT_COLOUR)
    ax.yaxis.grid(True, color="#dddddd", linewidth=0.6, zorder=0)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.set_xlim(-0.6, len(themes) - 0.4)

    subtitle = f"{summary.answered} of {summary.total} statements answered"
    if previous is not None:
        subtitle += f" · compared with {previous.title}"
    heading = textwrap.shorten(f"Maturity profile by theme — {summary.title}", 95, placeholder="…")
    ax.set_title(
        f"{heading}\n{textwrap.shorten(subtitle, 95, placeholder='…')}",
        fontsize=8,
        color=TEXT_COLOUR,
        loc="left",
        parse_math=False,
    )
    if previous is not None:
        ax.legend(fontsize=6.5, loc="upper right", bbox_to_anchor=(1.0, 1.16), ncols=2,
                  frameon=False)  # fmt: skip

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Title": summary.title})
    return buffer.getvalue()
