"""The polls tests' own fixture."""

from __future__ import annotations

import pytest

from tests.support.harness import Harness
from tests.support.polls import polls


@pytest.fixture
def h(harness: Harness) -> Harness:
    """The harness with a quick refresher, so tests need not wait 5 s for the tally."""
    polls(harness).refresher.interval = 0.05
    return harness
