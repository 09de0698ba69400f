"""Benchmarks of notebook_flow against drive-flow, microflow, LangGraph, LlamaIndex Workflows and
bare asyncio (scripts, not tests).

``python -m benchmarks.run`` runs them all; ``--quick`` only what the goals of issues 11 and 12
read; ``--tiny`` is the smoke run. See README.md beside this file, and run.py.
"""
