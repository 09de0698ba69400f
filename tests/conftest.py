import asyncio

import pytest


def only_current_task() -> bool:
    """True when no task other than the caller's is alive on the loop."""
    return asyncio.all_tasks() == {asyncio.current_task()}


@pytest.fixture
def flow():
    from notebook_flow import Flow

    return Flow("test")
