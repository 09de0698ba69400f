"""DOT -> SVG in the kernel: the ``graphviz-pure`` binary, else a system ``dot``, else text.

``NOTEBOOK_FLOW_RENDERER=pure|dot|text`` forces one. Layouts are cached per DOT text, so a graph
is laid out again only when its structure changes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from collections import OrderedDict
from pathlib import Path
from typing import Final

from ..errors import FlowError

__all__ = [
    "RENDERERS",
    "RENDERER_ENV",
    "RendererError",
    "choose_renderer",
    "renderer_path",
    "render_svg",
]

RENDERERS: Final = ("pure", "dot", "text")
RENDERER_ENV: Final = "NOTEBOOK_FLOW_RENDERER"
_TIMEOUT = 60.0
_CACHE_SIZE = 64
_cache: OrderedDict[tuple[str, str], str] = OrderedDict()


class RendererError(FlowError, RuntimeError):
    """No renderer could turn the DOT text into SVG (or a forced one is missing or broke)."""


def renderer_path(name: str) -> str | None:
    """The executable behind renderer ``name`` ("pure" or "dot"), or None if not installed."""
    if name == "dot":
        return shutil.which("dot")
    if name != "pure":
        return None
    found = shutil.which("graphviz-pure")
    if found:
        return found
    # A kernel started by its full python path may not have the venv's bin/ on PATH.
    exe = "graphviz-pure.exe" if os.name == "nt" else "graphviz-pure"
    for folder in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        candidate = Path(folder) / exe
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def choose_renderer(renderer: str | None = None) -> str:
    """The renderer to use: ``renderer``, else ``$NOTEBOOK_FLOW_RENDERER``, else the first found.

    Raises:
        RendererError: a renderer was asked for by name but is unknown or not installed.
    """
    forced = renderer or os.environ.get(RENDERER_ENV, "").strip().lower() or None
    if forced is not None:
        if forced not in RENDERERS:
            raise RendererError(
                f"unknown renderer {forced!r} (from {'the argument' if renderer else RENDERER_ENV}); "
                f"choose one of {', '.join(RENDERERS)}"
            )
        if forced != "text" and renderer_path(forced) is None:
            hint = (
                "pip install graphviz-pure"
                if forced == "pure"
                else "install Graphviz (apt-get install graphviz)"
            )
            raise RendererError(
                f"renderer {forced!r} was asked for but its program is not installed: {hint}, "
                f"or unset {RENDERER_ENV} to pick whatever is available"
            )
        return forced
    for name in ("pure", "dot"):
        if renderer_path(name) is not None:
            return name
    return "text"


def render_svg(dot_source: str, renderer: str | None = None) -> tuple[str | None, str]:
    """Lay out ``dot_source``; returns ``(svg, renderer_used)``, svg None for the text renderer.

    The SVG starts at its ``<svg`` element (no XML prologue), ready to inline in HTML.
    """
    name = choose_renderer(renderer)
    if name == "text":
        return None, name
    key = (name, dot_source)
    svg = _cache.get(key)
    if svg is not None:
        _cache.move_to_end(key)
        return svg, name
    svg = _run(name, dot_source)
    _cache[key] = svg
    if len(_cache) > _CACHE_SIZE:
        _cache.popitem(last=False)
    return svg, name


def _run(name: str, dot_source: str) -> str:
    exe = renderer_path(name)
    if exe is None:
        raise RendererError(f"renderer {name!r} is not installed")
    try:
        done = subprocess.run(
            [exe, "-Tsvg"],
            input=dot_source.encode("utf-8"),
            capture_output=True,
            timeout=_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise RendererError(f"{exe} could not lay out the graph: {error}") from error
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip()
        raise RendererError(
            f"{exe} -Tsvg failed with exit code {done.returncode}: {message or 'no message'}"
        )
    svg = done.stdout.decode("utf-8")
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else svg
