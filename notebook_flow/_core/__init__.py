"""The engine: standard library only, no display code."""
