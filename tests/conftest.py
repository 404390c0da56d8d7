"""The suite's fixtures and options: ``harness`` (a real bot against the local Discord, see
tests/support/harness.py), the stores (tests/support/stores.py), the xdist workers, and the
check that no test leaves a task running."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import pytest

from localdiscord import FakeDiscord
from tests.support.harness import Harness, local_discord, running_harness
from tests.support.stores import _postgres_template_cleanup, backends_for, empty_postgres_url, store, store_url
from tests.support.tvmaze import LocalTvmaze

__all__ = ["_postgres_template_cleanup", "empty_postgres_url", "store", "store_url"]


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    async with local_discord() as fake:
        yield fake


@pytest.fixture
async def harness(request: pytest.FixtureRequest, fake_discord: FakeDiscord, store_url: str) -> AsyncIterator[Harness]:
    freeze_heap = request.node.get_closest_marker("freeze_heap") is not None
    async with running_harness(fake_discord, store_url, freeze_heap=freeze_heap) as h:
        yield h


#: Workers a plain ``pytest`` run spreads the tests over (pytest-xdist), one per core of the
#: project's 2-core machines. ``-n N`` chooses another number, ``-n0`` or ``-p no:xdist`` none.
DEFAULT_WORKERS = 2


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """``-n 2`` unless the command line says otherwise (before xdist reads it; here, not in
    addopts, so that ``-p no:xdist`` still works). Not in a worker, not with ``--pdb``."""
    if not config.pluginmanager.hasplugin("xdist") or hasattr(config, "workerinput"):
        return
    if config.getoption("numprocesses", None) is None and not config.getoption("usepdb", False):
        workers = min(DEFAULT_WORKERS, os.cpu_count() or 1)
        if workers > 1:
            config.option.numprocesses = workers


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The slow tests (real clock, real processes, kills) first: spread over the workers from the
    start, the longest of them no longer begins last and holds up the end of the run. The
    order within each group is kept."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--store",
        choices=("both", "sqlite", "postgresql"),
        default="both",
        help="run the store-touching tests on this backend only (default: both)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test that uses a database runs on the stores tests/support/stores.py's rule gives it."""
    if "store_url" in metafunc.fixturenames:
        backends = backends_for(metafunc)
        metafunc.parametrize("store_url", backends, indirect=True, ids=backends)


@pytest.fixture(autouse=True)
async def _no_task_outlives_its_test(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Tasks a test leaves behind are cancelled here, within a bound; one that will not end
    is reported with its stack (pytest-asyncio would otherwise wait for it forever)."""
    yield
    current = asyncio.current_task()
    left = [task for task in asyncio.all_tasks() if task is not current and not task.done()]
    if not left:
        return
    for task in left:
        task.cancel()
    _, stuck = await asyncio.wait(left, timeout=10)
    if stuck:
        import io

        report = io.StringIO()
        for task in stuck:
            task.print_stack(file=report)
        with open("/tmp/hyosan-stuck-tasks.log", "a") as log:  # noqa: ASYNC230 - a last resort, before failing
            log.write(f"== {request.node.nodeid}\n{report.getvalue()}\n")
        raise AssertionError(f"{len(stuck)} tasks did not end when cancelled:\n{report.getvalue()}")


@pytest.fixture
async def tv() -> AsyncIterator[LocalTvmaze]:
    """A local TVmaze (real HTTP on 127.0.0.1) for the release watch's tests."""
    server = LocalTvmaze()
    await server.start()
    yield server
    await server.close()
