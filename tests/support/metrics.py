"""Reading a bot's metrics as Prometheus would scrape them."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from bot.observability import Metrics


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the exposition, by its name and sorted labels."""
    found = {}
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def watch_looks(metrics: Metrics) -> dict[str, float]:
    """hyosan_release_watch_looks_total by result (the results counted at least once)."""
    return {
        dict(labels)["result"]: value
        for (name, labels), value in samples(metrics).items()
        if name == "hyosan_release_watch_looks_total"
    }
