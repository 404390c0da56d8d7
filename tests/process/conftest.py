"""The local Discord that the real ``python -m bot`` processes of this folder connect to."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from localdiscord import FakeDiscord
from tests.support.harness import OPENAPI_SPEC
from tests.support.processes import TOKEN


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    """A local Discord that knows the processes' token (a module may override it, as the cluster test does)."""
    fake = FakeDiscord(OPENAPI_SPEC, token=TOKEN)
    await fake.start()
    yield fake
    await fake.close()
