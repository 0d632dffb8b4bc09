"""Server-side SVG charts for the admin page: no JavaScript, no chart library, no CDN.

``daily_bars`` draws two series per day (abandoned and recovered carts) as paired bars,
scaled to the largest value, with a legend and axis labels. It is a pure function of its
input: every piece of text is escaped, and the SVG names itself (``role="img"``,
``<title>``, an ``aria-label`` that sums it up) so a screen reader gets the gist; the
page also carries the numbers as a table.
"""
from __future__ import annotations

from html import escape
from typing import Sequence

WIDTH, HEIGHT = 640, 280
LEFT, RIGHT, TOP, BOTTOM = 48, 14, 44, 44          # room for the axis labels and the legend
COLOURS = ("#0b5cad", "#1a7f37")                    # admin.css --accent and --good


def daily_bars(days: Sequence[tuple[str, int, int]], *, title: str,
               names: tuple[str, str] = ("Abandoned", "Recovered")) -> str:
    """``days``: (day label, first series, second series), oldest first. Returns ``<svg>`` markup."""
    peak = max((max(a, b) for _, a, b in days), default=0)
    summary = _summary(days, title, names, peak)
    parts = [f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" xmlns="http://www.w3.org/2000/svg" '
             f'aria-label="{escape(summary)}" preserveAspectRatio="xMidYMid meet">',
             f"<title>{escape(title)}</title>", _legend(names), _axes(days, peak)]
    parts.extend(_bars(days, peak))
    if not days or peak == 0:
        parts.append(f'<text x="{(LEFT + WIDTH - RIGHT) // 2}" y="{TOP + (HEIGHT - TOP - BOTTOM) // 2}" '
                     'text-anchor="middle" fill="#59636e" font-size="16">No carts in this period</text>')
    parts.append("</svg>")
    return "".join(parts)


def _summary(days, title: str, names: tuple[str, str], peak: int) -> str:
    if not days:
        return f"{title}: no data."
    first_total, second_total = sum(d[1] for d in days), sum(d[2] for d in days)
    text = (f"{title}, {days[0][0]} to {days[-1][0]}: {first_total} {names[0].lower()}, "
            f"{second_total} {names[1].lower()}.")
    if peak:
        busiest = max(days, key=lambda d: d[1])
        text += f" Busiest day {busiest[0]} with {busiest[1]} {names[0].lower()}."
    return text


def _legend(names: tuple[str, str]) -> str:
    items = []
    for index, (name, colour) in enumerate(zip(names, COLOURS)):
        x = LEFT + index * 150
        items.append(f'<rect x="{x}" y="8" width="16" height="16" fill="{colour}"/>'
                     f'<text x="{x + 18}" y="22" font-size="17" fill="#1f2328">{escape(name)}</text>')
    return f'<g class="legend">{"".join(items)}</g>'


def _axes(days, peak: int) -> str:
    bottom, right = HEIGHT - BOTTOM, WIDTH - RIGHT
    parts = [f'<line x1="{LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#d0d7de"/>',
             f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}" stroke="#d0d7de"/>',
             f'<text x="{LEFT - 6}" y="{bottom + 4}" text-anchor="end" font-size="16" fill="#59636e">0</text>']
    if peak:
        parts.append(f'<line x1="{LEFT}" y1="{TOP}" x2="{right}" y2="{TOP}" stroke="#eaeef2"/>'
                     f'<text class="max" x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end" font-size="16" '
                     f'fill="#59636e">{peak}</text>')
    if days:
        parts.append(f'<text x="{LEFT}" y="{HEIGHT - 16}" font-size="16" fill="#59636e">{escape(days[0][0])}</text>')
        if len(days) > 1:
            parts.append(f'<text x="{right}" y="{HEIGHT - 16}" text-anchor="end" font-size="16" '
                         f'fill="#59636e">{escape(days[-1][0])}</text>')
    parts.append(f'<text x="14" y="{(TOP + bottom) // 2}" font-size="16" fill="#59636e" text-anchor="middle" '
                 f'transform="rotate(-90 14 {(TOP + bottom) // 2})">Carts</text>')
    return "".join(parts)


def _bars(days, peak: int) -> list[str]:
    if not days or not peak:
        return []
    slot = (WIDTH - LEFT - RIGHT) / len(days)
    bar = max(slot * 0.4, 0.5)
    usable = HEIGHT - TOP - BOTTOM
    bars = []
    for index, (label, *values) in enumerate(days):
        for series, (value, colour) in enumerate(zip(values, COLOURS)):
            if not value:
                continue
            height = usable * value / peak
            x = LEFT + index * slot + slot * 0.1 + series * bar
            bars.append(f'<rect x="{x:.2f}" y="{HEIGHT - BOTTOM - height:.2f}" width="{bar:.2f}" '
                        f'height="{height:.2f}" fill="{colour}"><title>{escape(label)}: {value}</title></rect>')
    return bars
