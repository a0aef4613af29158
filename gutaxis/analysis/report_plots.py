"""The cohort report's plots, drawn with matplotlib as SVG text to inline in the HTML page (no script,
no font or image fetched: the page reads offline)."""
from __future__ import annotations

import io
import re
from dataclasses import dataclass

import numpy as np

# Colours that stay apart for colour-blind readers (Okabe & Ito's palette).
ONE_DAY = "#7f7f7f"
USUAL = "#0072b2"
LOW_COVERAGE = "#e69f00"
REFERENCE = "#d55e00"

_STYLE = {
    "svg.fonttype": "none",        # text stays text: smaller, searchable, drawn with the reader's sans-serif font
    "svg.hashsalt": "gutaxis",     # the same data give the same file (ids are hashes)
    "font.family": "sans-serif",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def _figure(width: float, height: float):
    from matplotlib.figure import Figure  # no pyplot: no global figure registry

    # fixed margins: a constrained layout took half of each plot's drawing time
    return Figure(figsize=(width, height))


def styled(draw):
    """Draw and save under the report's style without changing matplotlib's defaults for anyone else."""
    import functools

    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        import matplotlib

        with matplotlib.rc_context(_STYLE):
            return draw(*args, **kwargs)
    return wrapper


_ID = re.compile(r'\bid="([^"]+)"')


def svg_text(fig, name: str, title: str) -> str:
    """The figure as an inline <svg> element: the XML prologue dropped, every id prefixed with `name`
    (several figures share one page, and matplotlib numbers its ids from 1 in each), a <title> for
    screen readers."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    text = text[text.index("<svg"):]
    ids = set(_ID.findall(text))
    text = _ID.sub(lambda m: f'id="{name}-{m.group(1)}"', text)
    text = re.sub(r'(url\(#|href="#)([^")]+)', lambda m: m.group(1) + (f"{name}-{m.group(2)}" if m.group(2) in ids else m.group(2)), text)
    # matplotlib names the one font it measured with; a reader without it gets a sans-serif, not the browser's serif
    text = re.sub(r"font-family: ('[^']+'|[\w -]+)", r"font-family: \1, Arial, Helvetica, sans-serif", text)
    head_end = text.index(">") + 1
    from html import escape

    return (text[:head_end].replace("<svg ", f'<svg role="img" aria-label="{escape(title)}" class="plot" data-plot="{escape(name)}" ', 1)
            + f"<title>{escape(title)}</title>" + text[head_end:])


@dataclass
class Percentiles:
    """Percentiles of a distribution, keyed by p in (0, 1), and its mean."""
    values: dict[float, float]
    mean: float | None = None

    def at(self, p: float) -> float | None:
        return self.values.get(p)


STRIP_PERCENTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def _strip(ax, y: float, pct: Percentiles, colour: str, label: str) -> None:
    """P5-P95 as a line, P25-P75 as a box, the median as a tick, the mean as a diamond."""
    p5, p25, p50, p75, p95 = (pct.at(p) for p in STRIP_PERCENTILES)
    if p5 is not None and p95 is not None:
        ax.plot([p5, p95], [y, y], color=colour, lw=1.5, solid_capstyle="butt")
    if p25 is not None and p75 is not None:
        ax.add_patch(_rectangle((p25, y - 0.18), p75 - p25, 0.36, colour))
    if p50 is not None:
        ax.plot([p50, p50], [y - 0.28, y + 0.28], color="white" if p25 is not None else colour, lw=2)
    if pct.mean is not None:
        ax.plot([pct.mean], [y], marker="D", color="black", markersize=3.5, linestyle="none")
    ax.text(-0.01, y, label, transform=ax.get_yaxis_transform(), ha="right", va="center", color=colour)


def _rectangle(xy, width, height, colour):
    from matplotlib.patches import Rectangle

    return Rectangle(xy, width, height, facecolor=colour, edgecolor=colour)


@styled
def distribution_plot(name: str, title: str, unit_label: str, one_day: np.ndarray, one_day_low: np.ndarray,
                      usual: Percentiles | None, usual_note: str, low_share: float) -> str:
    """One component: the histogram of its one-day values (days of low-coverage participants stacked in
    orange), and below it the one-day and usual-intake percentiles on the same axis. Without usual intake
    the plot says why in place of its strip."""
    fig = _figure(6.4, 3.1)
    hist, strips = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1.1],
                                gridspec_kw={"left": 0.11, "right": 0.98, "top": 0.93, "bottom": 0.15, "hspace": 0.08})
    values = one_day[np.isfinite(one_day)]
    low = one_day_low[np.isfinite(one_day)]
    one_day_pct = Percentiles({p: float(np.quantile(values, p)) for p in STRIP_PERCENTILES},
                              float(values.mean())) if values.size else None
    upper = [float(np.quantile(values, 0.995))] if values.size else []
    if usual is not None and usual.at(0.95) is not None:
        upper.append(usual.at(0.95) * 1.05)
    top = max(upper) if upper and max(upper) > 0 else 1.0
    bins = np.linspace(0.0, top, 41)
    clipped = np.clip(values, 0.0, top)
    if values.size:
        # one filled outline per group (a path each, not a rectangle per bin): low-coverage days stacked on top
        counts_ok, _ = np.histogram(clipped[~low], bins=bins)
        counts_low, _ = np.histogram(clipped[low], bins=bins)
        hist.stairs(counts_ok, bins, fill=True, color=ONE_DAY, label="one-day values")
        if counts_low.any():
            hist.stairs(counts_ok + counts_low, bins, baseline=counts_ok, fill=True, color=LOW_COVERAGE,
                        label="days of participants with low coverage")
        hist.legend(frameon=False, loc="upper right")
        hist.set_ylim(0, max(1, int((counts_ok + counts_low).max())) * 1.15)
    else:
        hist.text(0.5, 0.5, "no day with a value", transform=hist.transAxes, ha="center", va="center")
    hist.set_ylabel("days")
    if low_share > 0:
        hist.text(0.0, 1.02, f"low coverage: {low_share:.0%} of participants", transform=hist.transAxes,
                  ha="left", va="bottom", color=LOW_COVERAGE, fontweight="bold")
    strips.set_ylim(-0.6, 1.6)
    strips.set_yticks([])
    strips.spines["left"].set_visible(False)
    if one_day_pct is not None:
        _strip(strips, 1.0, one_day_pct, ONE_DAY, "one day")
    if usual is not None:
        _strip(strips, 0.0, usual, USUAL, "usual")
    else:
        strips.text(0.0, 0.0, f"usual intake not estimated: {usual_note}", transform=strips.get_yaxis_transform(),
                    ha="left", va="center", color=USUAL, fontsize=8, wrap=True)
        strips.text(-0.01, 0.0, "usual", transform=strips.get_yaxis_transform(), ha="right", va="center", color=USUAL)
    strips.set_xlim(0.0, top)
    strips.set_xlabel(f"{unit_label}   (box: P25-P75, line: P5-P95, tick: median, diamond: mean)")
    return svg_text(fig, name, title)


@styled
def coverage_plot(name: str, coverage: list[tuple[str, float, float]], threshold: float | None) -> str:
    """Mean coverage per component as bars (component, mean coverage, share of participants flagged low),
    bars below the low-coverage threshold in orange."""
    height = 0.9 + 0.19 * len(coverage)
    fig = _figure(6.4, height)
    ax = fig.subplots(gridspec_kw={"left": 0.2, "right": 0.98, "top": 1 - 0.15 / height, "bottom": 0.55 / height})
    labels = [c for c, _, _ in coverage]
    means = np.array([m for _, m, _ in coverage], dtype=float)
    limit = threshold if threshold is not None else 0.8
    colours = [LOW_COVERAGE if m < limit else USUAL for m in means]
    y = np.arange(len(coverage))[::-1]
    ax.barh(y, means, color=colours, height=0.7)
    for yi, (_, m, low) in zip(y, coverage):
        ax.text(min(m, 1.0) + 0.01, yi, f"{m:.0%}" + (f"  ({low:.0%} of participants low)" if low > 0 else ""),
                va="center", fontsize=7)
    ax.axvline(limit, color=REFERENCE, lw=0.8, ls="--")
    ax.set_yticks(y, labels, fontsize=7)
    ax.set_xlim(0, 1.35)
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0], ["0", "25%", "50%", "75%", "100%"])
    ax.set_xlabel(f"mean coverage (share of grams with a value); dashed: low-coverage threshold {limit:.0%}")
    return svg_text(fig, name, "coverage per component")


@dataclass
class ForestRow:
    label: str
    estimate: float
    ci_low: float
    ci_high: float


@styled
def forest_plot(name: str, title: str, rows: list[ForestRow], ratio: bool, axis_label: str) -> str:
    """Estimates with their 95 % CIs, one row each; odds ratios on a log axis around 1, differences around 0."""
    height = 1.1 + 0.2 * len(rows)
    fig = _figure(7.2, height)
    label_width = min(0.55, 0.012 * max(len(r.label) for r in rows) + 0.02)
    ax = fig.subplots(gridspec_kw={"left": label_width, "right": 0.97, "top": 1 - 0.4 / height, "bottom": 0.6 / height})
    y = np.arange(len(rows))[::-1]
    transform = np.exp if ratio else (lambda v: v)
    est = transform(np.array([r.estimate for r in rows]))
    low = transform(np.array([r.ci_low for r in rows]))
    high = transform(np.array([r.ci_high for r in rows]))
    ax.hlines(y, low, high, color=USUAL, lw=1.2)
    ax.plot(est, y, "s", color=USUAL, markersize=4)
    ax.axvline(1.0 if ratio else 0.0, color=REFERENCE, lw=0.8, ls="--")
    if ratio:  # odds ratios on a log axis, labelled 0.5, 1, 2 rather than as powers of ten
        from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

        ax.set_xscale("log")
        low_end, high_end = ax.get_xlim()
        ticks = [t for t in (0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 4, 5, 10, 20, 50, 100) if low_end <= t <= high_end]
        ax.xaxis.set_major_locator(FixedLocator(ticks or [1]))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_yticks(y, [r.label for r in rows], fontsize=7)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlabel(axis_label)
    ax.set_title(title, loc="left", fontsize=10)
    return svg_text(fig, name, title)
