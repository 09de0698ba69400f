"""What a Flow or WorkflowManager shows when a notebook displays it: its DAG, never an error.

Measured in JupyterLab 4.6 and Notebook 7.6 (headless Chromium): an ``image/svg+xml`` output
is not rendered in an untrusted notebook (one opened from elsewhere, or executed by nbclient),
and inline ``<svg>`` in ``text/html`` is removed by the sanitizer there; an ``<img>`` with a
``data:image/svg+xml;base64`` source in ``text/html`` shows in trusted and untrusted notebooks
alike, in nbconvert's HTML too. So a picture is offered as that ``text/html`` first, then as
``image/svg+xml`` (for renderers that read only images), then as text.
"""

from __future__ import annotations

import base64
import html
import logging
from collections.abc import Sequence
from typing import Any

from .graph_layout import layout
from .paint import on_paper

__all__ = ["mimebundle", "picture_bundle"]

logger = logging.getLogger("notebook_flow")


def mimebundle(
    source: Any, include: Any | None = None, exclude: Any | None = None
) -> dict[str, str]:
    """``{"image/svg+xml": ..., "text/plain": ...}`` for ``source``; only text if SVG fails.

    Used by ``Flow._repr_mimebundle_`` and ``WorkflowManager._repr_mimebundle_``. Never raises:
    whatever goes wrong is reported in the text and logged.
    """
    try:
        drawn = layout(source)
    except Exception as error:  # displaying must never raise
        logger.warning("could not draw %r", source, exc_info=True)
        return {"text/plain": f"{source!r}\n(could not draw its graph: {error})"}
    text = drawn.text + (f"\n({drawn.note})" if drawn.note else "")
    bundle = {"text/plain": text}
    if drawn.svg is not None:
        bundle = picture_bundle(on_paper(drawn.svg), text)
    if include:
        bundle = {k: v for k, v in bundle.items() if k in include}
    if exclude:
        bundle = {k: v for k, v in bundle.items() if k not in exclude}
    return bundle


def _img(svg: str, alt: str) -> str:
    encoded = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return (
        f'<img src="data:image/svg+xml;base64,{encoded}" alt="{html.escape(alt, quote=True)}" '
        'style="max-width: 100%; height: auto;">'
    )


def picture_bundle(
    svg: str, text: str, *, folded: Sequence[tuple[str, str]] = ()
) -> dict[str, str]:
    """An SVG picture as output data every notebook host shows: HTML image, SVG, then text.

    Args:
        svg: the picture.
        text: the text version; its first line is the image's alt text.
        folded: (title, svg) of more pictures, shown folded under the first in the HTML
            (``<details>``; e.g. the timeline of the run).
    """
    parts = [_img(svg, text.splitlines()[0] if text else "flow")]
    for title, more in folded:
        parts.append(
            f"<details><summary>{html.escape(title)}</summary>{_img(more, title)}</details>"
        )
    return {"text/html": "".join(parts), "image/svg+xml": svg, "text/plain": text}
