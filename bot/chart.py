"""The maturity profile as a PNG: average level per theme on a 1-4 axis, with the plan's targets,
optionally against a previous review.

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
from collections.abc import Mapping
from datetime import date

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bot.sanitise import clean_data
from workflows.plan import Summary, ThemeProfile

WIDTH_IN, HEIGHT_IN, DPI = 8.0, 4.5, 200  # 1600 x 900 pixels
LEVELS = (1, 2, 3, 4)
BASE = 1.0  # the lowest level: bars rise from here, not from 0
SIZE = (int(WIDTH_IN * DPI), int(HEIGHT_IN * DPI))

CURRENT_COLOUR = "#1f5f8b"
PREVIOUS_COLOUR = "#b8c4ce"
TARGET_COLOUR = "#e07b00"
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


def chart_title(organisation: str, as_of: date) -> str:
    """ "Hill School – Careers Impact review – January 2025": whose review, and when."""
    return f"{organisation} – Careers Impact review – {as_of:%B %Y}"


def chart_description(
    summary: Summary,
    previous: Summary | None = None,
    targets: Mapping[int, float] | None = None,
) -> str:
    """The chart in words, for Word's alternative text and caption: a screen reader (or a
    printout in grey) gets every number the bars and markers show."""
    earlier = {t.number: t for t in previous.themes} if previous is not None else {}
    parts = []
    for theme in summary.themes:
        text = f"{theme.number}. {short_theme_title(theme.title, width=200)}: "
        text += f"level {_level_text(theme.average_level)}"
        if theme.number in earlier:
            text += f" (previously {_level_text(earlier[theme.number].average_level)})"
        if targets and theme.number in targets:
            text += f", target {targets[theme.number]:.1f}"
        parts.append(text)
    return "Average level (1-4) of each theme: " + "; ".join(parts) + "."


def draw_maturity_chart(
    summary: Summary,
    previous: Summary | None = None,
    *,
    title: str | None = None,
    targets: Mapping[int, float] | None = None,
) -> Figure:
    """The maturity profile by theme on a 1-4 axis (levels start at 1), as a Figure.

    Each bar is a theme's average level, annotated with the average and how many of its
    statements were answered ("2.3", "7/7 answered"). With `previous`, that review's averages
    are drawn beside them as "previous review" and the change is written above each pair.
    `targets` (theme number -> level, `workflows.plan.theme_targets`) are drawn as diamonds
    where the plan sets one. `title` names the school and the review; without it the review's
    own title is used.
    """
    summary, previous = clean_data(summary), clean_data(previous)
    title = clean_data(title)
    targets = dict(targets or {})
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

    def height(value: float | None) -> float:
        """A bar's height above the axis floor (level 1); unanswered themes draw nothing."""
        return max(0.0, (value or BASE) - BASE)

    current = [height(t.average_level) for t in themes]
    if previous is not None:
        before = [
            height(earlier[t.number].average_level) if t.number in earlier else 0.0 for t in themes
        ]
        ax.bar(
            [p - offset for p in positions],
            before,
            bottom=BASE,
            width=width,
            color=PREVIOUS_COLOUR,
            label="previous review",
            zorder=2,
        )
    ax.bar(
        [p + offset for p in positions],
        current,
        bottom=BASE,
        width=width,
        color=CURRENT_COLOUR,
        label="this review",
        zorder=2,
    )
    marked = [(p + offset, targets[t.number]) for p, t in zip(positions, themes, strict=True)
              if t.number in targets]  # fmt: skip
    if marked:
        ax.scatter(
            [x for x, _ in marked],
            [y for _, y in marked],
            marker="D",
            s=42,
            color=TARGET_COLOUR,
            edgecolors="white",
            linewidths=0.8,
            label="target: theme average once its actions reach their target levels",
            zorder=4,
        )

    for position, theme in zip(positions, themes, strict=True):
        x = position + offset
        top = theme.average_level or BASE
        ax.annotate(
            f"{_level_text(theme.average_level)}\n{theme.answered}/{theme.total} answered",
            (x, top),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=6.5,
            color=TEXT_COLOUR,
            linespacing=1.1,
        )
        if theme.number in targets:
            ax.annotate(
                f"{targets[theme.number]:.1f}",
                (x, targets[theme.number]),
                xytext=(7, 0),
                textcoords="offset points",
                ha="left",
                va="center",
                fontsize=6,
                color=TARGET_COLOUR,
                fontweight="bold",
            )
        before_theme = earlier.get(theme.number)
        if previous is not None and before_theme is not None:
            old = before_theme.average_level
            ax.annotate(
                _level_text(old),
                (position - offset, old or BASE),
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
                    4.45,
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
    # Levels run 1-4: the axis starts at level 1, with a little headroom for the labels.
    ax.set_ylim(BASE, 4.6 if previous is not None else 4.45)
    ax.set_yticks(list(LEVELS), [f"Level {n}" for n in LEVELS], fontsize=7)
    ax.spines["left"].set_bounds(BASE, max(LEVELS))
    ax.set_ylabel("Average level", fontsize=7.5, color=TEXT_COLOUR)
    ax.yaxis.grid(True, color="#dddddd", linewidth=0.6, zorder=0)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.set_xlim(-0.6, len(themes) - 0.4)

    subtitle = f"Maturity profile by theme · {summary.answered} of {summary.total} answered"
    if title is None:
        title = summary.title
    elif summary.title and summary.title not in title:
        subtitle = f"{summary.title} · {subtitle}"
    if previous is not None:
        subtitle += f" · compared with {previous.title}"
    heading = textwrap.shorten(title, 95, placeholder="…")
    ax.set_title(
        f"{heading}\n{textwrap.shorten(subtitle, 120, placeholder='…')}",
        fontsize=8,
        color=TEXT_COLOUR,
        loc="left",
        parse_math=False,
    )
    handles = len(ax.get_legend_handles_labels()[0])
    if handles > 1:  # below the theme names, clear of the title and the bars
        fig.legend(fontsize=6.5, loc="outside lower center", ncols=handles, frameon=False)
    fig.set_label(title)
    return fig


def maturity_chart(
    summary: Summary,
    previous: Summary | None = None,
    *,
    title: str | None = None,
    targets: Mapping[int, float] | None = None,
) -> bytes:
    """PNG bytes of `draw_maturity_chart`, 1600x900 at 200 dpi, its title in the PNG metadata."""
    fig = draw_maturity_chart(summary, previous, title=title, targets=targets)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Title": fig.get_label()})
    return buffer.getvalue()
