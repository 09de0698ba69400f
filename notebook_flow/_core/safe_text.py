"""Text of any value or exception, even one whose ``__str__`` / ``__repr__`` raises."""

from __future__ import annotations

from typing import Any

__all__ = ["safe_str", "safe_repr"]


def safe_str(value: Any) -> str:
    """``str(value)``; if that raises, a placeholder that names the type (never raises)."""
    try:
        return str(value)
    except Exception as error:
        return f"<{type(value).__name__}: str() failed with {type(error).__name__}>"


def safe_repr(value: Any) -> str:
    """``repr(value)``; if that raises, a placeholder that names the type (never raises)."""
    try:
        return repr(value)
    except Exception as error:
        return f"<{type(value).__name__}: repr() failed with {type(error).__name__}>"
