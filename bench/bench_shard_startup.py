"""Start-up with shards: spawn to READY and peak RSS of `python -m bot` in many guilds,
on 1 shard and on 4 shards in one process (with max_concurrency 1 and 16).

    .venv/bin/python bench/bench_shard_startup.py [--guilds 10000] [--runs 3]

One fake Discord holds the guilds (20 channels and 10 roles each, as the memory benchmark
of run.py); 10,000 guilds on one shard is past Discord's 2,500, so the limit is lifted for
the 1-shard runs only. Prints one JSON object of medians and every run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import tempfile
from pathlib import Path
from typing import Any

from _common import add_plain_guilds, new_fake, start_ready

log = logging.getLogger("bench.shards")

#: (label, SHARD_COUNT, max_concurrency granted by GET /gateway/bot)
SETUPS = (("1 shard", 1, 1), ("4 shards, max_concurrency 1", 4, 1), ("4 shards, max_concurrency 16", 4, 16))


async def measure(guilds: int, runs: int) -> dict[str, Any]:
    fake = await new_fake()  # lifts the 2,500-a-shard limit
    samples: dict[str, list[dict[str, float]]] = {label: [] for label, _, _ in SETUPS}
    try:
        add_plain_guilds(fake, guilds, channels=20, roles=10)
        with tempfile.TemporaryDirectory(prefix="shard-startup-") as tmp:
            for run in range(runs):
                for label, shard_count, concurrency in SETUPS:
                    fake.max_concurrency = concurrency
                    workdir = Path(tmp) / f"{run}-{shard_count}-{concurrency}"
                    proc = await start_ready(
                        "bot", fake, workdir, timeout=300, extra_env={"SHARD_COUNT": str(shard_count)}
                    )
                    try:
                        assert proc.ready_at is not None
                        await asyncio.sleep(1.0)
                        status = proc.status()
                        sample = {
                            "ready_seconds": round(proc.ready_at - proc.started_at, 3),
                            "peak_rss_mb": round(status["VmHWM"] / 1024, 2),
                            "guilds_seen": float(proc.ready_guilds or 0),
                        }
                    finally:
                        await proc.stop()
                    samples[label].append(sample)
                    log.info("%s: %s", label, sample)
    finally:
        await fake.close()
    return {
        "guilds": guilds,
        "medians": {
            label: {key: statistics.median(s[key] for s in runs_) for key in ("ready_seconds", "peak_rss_mb")}
            for label, runs_ in samples.items()
        },
        "runs": samples,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--guilds", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    print(json.dumps(asyncio.run(measure(args.guilds, args.runs)), indent=2))


if __name__ == "__main__":
    main()
