"""The /about card as plain data: no Discord objects, so it is tested without a gateway."""

from __future__ import annotations

import math
from dataclasses import dataclass

from bot.datapack import DataPack
from bot.i18n import Locale, format_day


@dataclass(frozen=True, slots=True)
class AboutCard:
    description: str
    version: str
    pack_version: int
    pack_as_of: str
    sources: tuple[str, ...]
    latency_ms: int | None
    disclaimer: str
    shard_id: int = 0
    shard_count: int = 1


def describe_source(title: str, publisher: str | None, date: str | None) -> str:
    parts = [title]
    if publisher:
        parts.append(publisher)
    if date:
        parts.append(date)
    return ", ".join(parts)


def build_about(
    pack: DataPack,
    version: str,
    latency_seconds: float,
    locale: Locale = None,
    *,
    shard_id: int = 0,
    shard_count: int = 1,
) -> AboutCard:
    """``latency_seconds`` is that of the shard ``shard_id``, the one the guild is on; it is
    unknown (inf/nan) until that shard's first heartbeat is acknowledged."""
    latency = None if math.isinf(latency_seconds) or math.isnan(latency_seconds) else round(latency_seconds * 1000)
    sources = tuple(
        describe_source(
            source.tr("title", locale), source.publisher, format_day(source.date, locale) if source.date else None
        )
        for source in pack.sources
    )
    return AboutCard(
        description=pack.show.bot.tr("about", locale),
        version=version,
        pack_version=pack.show.pack.version,
        pack_as_of=format_day(pack.show.pack.as_of, locale),
        sources=sources,
        latency_ms=latency,
        disclaimer=pack.show.bot.tr("disclaimer", locale),
        shard_id=shard_id,
        shard_count=shard_count,
    )
