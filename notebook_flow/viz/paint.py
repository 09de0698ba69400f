"""Bake node states into an SVG, for output that must look right without CSS or JavaScript.

The live view toggles CSS classes; a saved notebook (nbconvert, GitHub) shows plain SVG, so the
final picture carries its colours as attributes. The layout is reused, never recomputed.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence

from .theme import EDGE_COLOUR, FONT, INFERRED_EDGE_COLOUR, SEEN_EDGE_COLOUR, STATE_STYLES

__all__ = ["paint_svg", "framed_svg", "shape_box", "on_paper"]

_NODE = re.compile(r'(<g id="(?P<id>[A-Za-z0-9_]+)" class="node">)(?P<body>.*?)(</g>)', re.S)
_EDGE = re.compile(r'(<g id="(?P<id>[A-Za-z0-9_]+)" class="edge">)(?P<body>.*?)(</g>)', re.S)
_SHAPE = re.compile(r'<(path|polygon|ellipse) fill="[^"]*" stroke="[^"]*"(?: stroke-width="[^"]*")?')
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_PLAIN_EDGE = re.compile(rf'(fill|stroke)="(?:{EDGE_COLOUR}|{INFERRED_EDGE_COLOUR})"')


def shape_box(body: str) -> tuple[float, float, float, float] | None:
    """(x0, y0, x1, y1) of the first shape in a node's SVG (None if it has none)."""
    match = re.search(r'<(path|polygon|ellipse) [^>]*>', body)
    if match is None:
        return None
    tag = match.group(0)
    if match.group(1) == "ellipse":
        vals = {k: float(v) for k, v in re.findall(r'\b(cx|cy|rx|ry)="(-?[\d.]+)"', tag)}
        if len(vals) < 4:
            return None
        cx, cy, rx, ry = vals["cx"], vals["cy"], vals["rx"], vals["ry"]
        return cx - rx, cy - ry, cx + rx, cy + ry
    coords = re.search(r'\b(?:d|points)="([^"]*)"', tag)
    numbers = [float(n) for n in _NUMBER.findall(coords.group(1))] if coords else []
    xs, ys = numbers[0::2], numbers[1::2]
    if not xs or not ys:
        return None
    return min(xs), min(ys), max(xs), max(ys)


def _badge(box: tuple[float, float, float, float], count: int, stroke: str) -> str:
    x1, y0 = box[2], box[1]
    text = f"×{count}"
    width = 7 + 5.6 * len(text)
    return (
        f'<g class="nf-count"><rect x="{x1 - width + 4:.2f}" y="{y0 - 6:.2f}" width="{width:.2f}" '
        f'height="12" rx="6" fill="white" stroke="{stroke}" stroke-width="1"/>'
        f'<text x="{x1 - width / 2 + 4:.2f}" y="{y0 + 3:.2f}" text-anchor="middle" '
        f'font-family="{FONT}" font-size="8.5" fill="{stroke}">{text}</text></g>'
    )


def paint_svg(
    svg: str,
    states: Mapping[str, str],
    counts: Mapping[str, int] | None = None,
    seen_edges: Sequence[str] = (),
) -> str:
    """``svg`` with each node ``states[svg_id]`` coloured in, counts > 1 as badges, edges seen.

    Args:
        svg: an SVG made by ``to_dot`` + ``render_svg``.
        states: node state by SVG element id ("done", "failed", ...; see ``STATE_STYLES``).
        counts: how many times each node ran; shown when more than once.
        seen_edges: SVG ids of edges a run took (drawn darker).
    """
    counts = counts or {}
    seen = set(seen_edges)

    def node(match: re.Match[str]) -> str:
        sid = match.group("id")
        state = states.get(sid)
        style = STATE_STYLES.get(state or "")
        body = match.group("body")
        if style is None:
            return match.group(0)
        width = "2" if state in ("running", "failed", "paused") else "1.5"
        body = _SHAPE.sub(
            lambda m: f'<{m.group(1)} fill="{style.fill}" stroke="{style.stroke}" stroke-width="{width}"',
            body,
            count=1,
        )
        count = counts.get(sid, 0)
        if count > 1:
            box = shape_box(body)
            if box is not None:
                body += _badge(box, count, style.stroke)
        return f'<g id="{sid}" class="node nf-{state}">{body}</g>'

    def edge(match: re.Match[str]) -> str:
        if match.group("id") not in seen:
            return match.group(0)
        body = _PLAIN_EDGE.sub(rf'\1="{SEEN_EDGE_COLOUR}"', match.group("body"))
        return f'{match.group(1)}{body}{match.group(4)}'

    return _EDGE.sub(edge, _NODE.sub(node, svg))


_OPEN_TAG = re.compile(r"<svg\b[^>]*>")


def on_paper(svg: str, colour: str = "white") -> str:
    """``svg`` on an opaque background: dark text and grey edges stay legible on a dark page."""
    match = _OPEN_TAG.search(svg)
    if match is None:
        return svg
    paper = f'<rect x="0" y="0" width="100%" height="100%" fill="{colour}"/>'
    return svg[: match.end()] + paper + svg[match.end() :]


_SIZE = re.compile(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"\s+viewBox="([^"]*)"')


def framed_svg(svg: str, title: str, states: Sequence[str] = (), *, note: str = "") -> str:
    """``svg`` under a one-line ``title`` with a legend of ``states`` (and a ``note``) below.

    The result is one self-contained SVG: what a saved notebook shows once the kernel is gone.
    """
    match = _SIZE.search(svg)
    if match is None:
        return svg
    width, height = float(match.group(1)), float(match.group(2))
    inner = svg[svg.find(">", match.end()) + 1 : svg.rfind("</svg>")]
    top, legend_h = 22.0, 18.0 if states or note else 0.0
    total_w = max(width, 360.0, 12 + 6.4 * len(title))  # Arial 11 bold: ~6.4 pt a character
    total_h = top + height + legend_h
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'width="{total_w:.0f}pt" height="{total_h:.0f}pt" viewBox="0 0 {total_w:.2f} {total_h:.2f}">',
        f'<rect x="0" y="0" width="{total_w:.2f}" height="{total_h:.2f}" fill="white"/>',
        f'<text x="6" y="14" font-family="{FONT}" font-size="11" font-weight="bold" '
        f'fill="#1f2933">{html.escape(title)}</text>',
        f'<svg x="0" y="{top}" width="{width}" height="{height}" viewBox="{match.group(3)}">{inner}</svg>',
    ]
    x, y = 6.0, top + height + 12
    for state in states:
        style = STATE_STYLES[state]
        parts.append(
            f'<rect x="{x:.1f}" y="{y - 8:.1f}" width="10" height="10" rx="2" fill="{style.fill}" '
            f'stroke="{style.stroke}" stroke-width="1.5"/>'
            f'<text x="{x + 14:.1f}" y="{y:.1f}" font-family="{FONT}" font-size="9" '
            f'fill="#52606d">{style.label}</text>'
        )
        x += 22 + 5.2 * len(style.label)
    if note:
        parts.append(
            f'<text x="{x + 6:.1f}" y="{y:.1f}" font-family="{FONT}" font-size="9" '
            f'fill="#7b8794">{html.escape(note)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
