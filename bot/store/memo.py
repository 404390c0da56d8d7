"""Small settings that hot commands read on every use, remembered per process.

/countdown reads the release record and the server's countdown zone, /character and
/survivors the server's spoiler channels: one or two read blocks per command, which on
PostgreSQL cost a pool checkout and a round trip each. The values change
only when a moderator changes them, so the store remembers them (:meth:`Store.recall`)
and every writer of one forgets it right after its commit (:meth:`Store.forget`).

What this process writes it sees at once: a write forgets the value after its commit,
and a read that was already under way when it did so (it may have read the old row) is
not kept. What another process writes (a cluster's other shards, an operator's SQL) is
seen within :data:`REMEMBER_FOR`, the same bound as a cluster's look at the store for
release news (``SHARED_STORE_LOOK_EVERY``). A guild's settings are written through
the process its shard is on, where its interactions arrive, so in a cluster that bound
only applies to the release record (one for all servers) and to writes from outside.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from cachetools import TTLCache

if TYPE_CHECKING:
    from bot.store.base import ReadConnection

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

#: The longest a value written by another process (or outside the bot) is still shown.
REMEMBER_FOR = 5.0
#: Values kept per kind: a guild's settings are a few bytes; past this, the least recently
#: used are read again.
REMEMBER_AT_MOST = 20_000


@dataclass(frozen=True, eq=False)
class Recalled(Generic[K, V]):
    """A kind of value the store remembers: how to read one by its key.

    Declare it once, beside its table's repository; identity is the kind (``eq=False``).
    """

    name: str
    load: Callable[[ReadConnection, K], Awaitable[V]]
    ttl: float = REMEMBER_FOR
    maxsize: int = REMEMBER_AT_MOST

    def of(self, *keys: K) -> Change:
        """What a write changes, for ``store.transaction(...)``: these keys' values."""
        return Change(self, keys)

    def every(self) -> Change:
        """What a write changes when it cannot tell which keys: all of them."""
        return Change(self, None)


@dataclass(frozen=True)
class Change:
    """Values a transaction writes: forgotten once it has ended, committed or not."""

    kind: Recalled[Any, Any]
    #: None: every key.
    keys: tuple[Hashable, ...] | None


class Memo(Generic[K, V]):
    """One kind's remembered values in one store."""

    def __init__(self, kind: Recalled[K, V]) -> None:
        self._values: TTLCache[K, V] = TTLCache(kind.maxsize, kind.ttl)
        #: Bumped by every forget: a read that began before one is not remembered.
        self._forgets = 0

    def cached(self, key: K) -> tuple[bool, V | None]:
        try:
            return True, self._values[key]
        except KeyError:
            return False, None

    def began(self) -> int:
        return self._forgets

    def keep(self, key: K, value: V, began: int) -> None:
        """Remember ``value``, read after ``began()`` returned ``began``, unless a write forgot since."""
        if self._forgets == began:
            self._values[key] = value

    def forget(self, key: K) -> None:
        self._forgets += 1
        self._values.pop(key, None)

    def forget_all(self) -> None:
        self._forgets += 1
        self._values.clear()
