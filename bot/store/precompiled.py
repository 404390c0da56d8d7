"""Statements compiled once for SQLite and run straight on the sqlite3 connection.

For the hottest path only (a lone click's transaction, see ``cogs.polls.repo``): there
SQLAlchemy's per-statement work (the execution context, the compiled cache's key, the
result's metadata) cost more than SQLite running the statement. The SQL is still what
SQLAlchemy compiles from the schema's constructs, and every parameter still goes through
its column type's bind processor (times become the store's fixed-width UTC text).
Results come back as plain tuples: statements here select plain integers only.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy.dialects import sqlite
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

_DIALECT = sqlite.dialect(paramstyle="qmark")


class PrecompiledSqlite:
    """One statement: its SQL text and, in order, each parameter's name and bind processor."""

    def __init__(self, statement: ClauseElement) -> None:
        compiled = statement.compile(dialect=_DIALECT)
        if not isinstance(compiled, SQLCompiler):  # pragma: no cover - a DML or SELECT compiles so
            raise TypeError(f"not a statement SQLite runs: {statement!r}")
        if compiled.positiontup is None:  # pragma: no cover - qmark always gives positions
            raise TypeError("the statement has no positional parameters")
        self.sql = compiled.string
        binds = compiled.binds
        #: (name, bind processor, the value a literal of the statement carries, if any)
        self._parameters: list[tuple[str, Callable[[Any], Any] | None, Any]] = [
            (name, binds[name].type.bind_processor(_DIALECT), binds[name].value) for name in compiled.positiontup
        ]

    def _values(self, parameters: Mapping[str, Any]) -> tuple[Any, ...]:
        values = []
        for name, process, literal in self._parameters:
            value = parameters.get(name, literal)
            values.append(value if process is None else process(value))
        return tuple(values)

    def fetchall(self, connection: sqlite3.Connection, parameters: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        return connection.execute(self.sql, self._values(parameters)).fetchall()

    def executemany(self, connection: sqlite3.Connection, rows: Iterable[Mapping[str, Any]]) -> None:
        values: Sequence[tuple[Any, ...]] = [self._values(row) for row in rows]
        connection.executemany(self.sql, values)
