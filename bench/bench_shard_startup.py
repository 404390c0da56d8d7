"""Start-up with shards: spawn to READY and peak RSS of `python -m bot` in many guilds,
on 1 shard and on 4 shards in one process (with max_concurrency 1 and 16), against the
baseline measured in the same run: the bare discord.py bot (bench/baseline_bot.py) on one
connection in the same guilds.

    .venv/bin/python bench/bench_shard_startup.py [--guilds 10000] [--runs 3]

One fake Discord holds the guilds (20 channels and 10 roles each, as the memory benchmark
of run.py); 10,000 guilds on one connection is past Discord's 2,500 a shard, so the fake's
limit is lifted (for the 1-shard runs and the baseline). Prints a table of medians and
their ratios to the baseline, then one JSON object of medians, ratios and every run.
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

from _common import Kind, add_plain_guilds, new_fake, print_rows, start_ready

log = logging.getLogger("bench.shards")

BASELINE = "baseline: bare discord.py bot, 1 connection"
#: (label, process, SHARD_COUNT, max_concurrency granted by GET /gateway/bot)
SETUPS: tuple[tuple[str, Kind, int | None, int], ...] = (
    (BASELINE, "baseline", None, 1),
    ("1 shard", "bot", 1, 1),
    ("4 shards, max_concurrency 1", "bot", 4, 1),
    ("4 shards, max_concurrency 16", "bot", 4, 16),
)
FIGURES = ("ready_seconds", "peak_rss_mb")


async def measure(guilds: int, runs: int) -> dict[str, Any]:
    fake = await new_fake()  # lifts the 2,500-a-shard limit
    samples: dict[str, list[dict[str, float]]] = {label: [] for label, _, _, _ in SETUPS}
    try:
        add_plain_guilds(fake, guilds, channels=20, roles=10)
        with tempfile.TemporaryDirectory(prefix="shard-startup-") as tmp:
            for run in range(runs):
                for label, kind, shard_count, concurrency in SETUPS:
                    fake.max_concurrency = concurrency
                    workdir = Path(tmp) / f"{run}-{kind}-{shard_count}-{concurrency}"
                    env = {"SHARD_COUNT": str(shard_count)} if shard_count else None
                    proc = await start_ready(kind, fake, workdir, timeout=300, extra_env=env)
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
    medians = {
        label: {key: statistics.median(s[key] for s in runs_) for key in FIGURES} for label, runs_ in samples.items()
    }
    return {
        "guilds": guilds,
        "medians": medians,
        "ratios_to_baseline": {
            label: {key: round(values[key] / medians[BASELINE][key], 2) for key in FIGURES}
            for label, values in medians.items()
            if label != BASELINE
        },
        "runs": samples,
    }


def print_table(result: dict[str, Any]) -> None:
    base = result["medians"][BASELINE]
    rows = [(f"{result['guilds']:,} guilds, medians", "spawn to READY / peak RSS")]
    rows.append((BASELINE, f"{base['ready_seconds']} s / {base['peak_rss_mb']} MB"))
    for label, values in result["medians"].items():
        if label == BASELINE:
            continue
        ratios = result["ratios_to_baseline"][label]
        rows.append(
            (
                label,
                f"{values['ready_seconds']} s ({ratios['ready_seconds']}x) / "
                f"{values['peak_rss_mb']} MB ({ratios['peak_rss_mb']}x)",
            )
        )
    print_rows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--guilds", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    result = asyncio.run(measure(args.guilds, args.runs))
    print_table(result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
