"""Benchmarks of notebook_flow against drive-flow, microflow and bare asyncio (scripts, not tests).

Run them all with ``python -m benchmarks.run`` (``--tiny`` for the CI smoke run). See run.py.
"""
