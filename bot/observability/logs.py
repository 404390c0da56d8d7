"""The log's two forms: text for people (the default) and LOG_FORMAT=json, one object a line.

Either way, a :class:`SecretRedactor` on the handler replaces the token and the database
password wherever they would appear (message, arguments, traceback), and the interaction
path's context (shard, guild, interaction id) and the error reference a member was shown
are fields of each JSON line where they exist.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import sys
from collections.abc import Iterable
from typing import Any

import discord

#: The interaction being handled in this task: its guild, shard and id (see :func:`bind_interaction`).
_CONTEXT: contextvars.ContextVar[dict[str, int] | None] = contextvars.ContextVar("hyosan_log_context", default=None)
#: Record attributes (``extra=``) copied into a JSON line when present.
CONTEXT_FIELDS = ("shard", "guild", "interaction", "reference")
REDACTED = "[redacted]"


def bind_interaction(interaction: discord.Interaction[Any]) -> None:
    """Name this interaction in every log line the current task writes from now on."""
    context: dict[str, int] = {"interaction": interaction.id}
    guild = interaction.guild
    if interaction.guild_id is not None:
        context["guild"] = interaction.guild_id
    if guild is not None:
        context["shard"] = guild.shard_id
    _CONTEXT.set(context)


class SecretRedactor(logging.Filter):
    """Replaces each secret in a record with ``[redacted]`` before any handler formats it."""

    def __init__(self, secrets: Iterable[str | None]) -> None:
        super().__init__()
        # Longest first, so a secret that contains another is replaced whole. Short strings
        # would blank out ordinary words: a secret is at least 6 characters.
        self.secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        clean = self.redact(message)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, and shard, guild,
    interaction and reference where they exist; a traceback under ``exception``."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        context = _CONTEXT.get()
        if context:
            line.update(context)
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info and record.exc_info[0] is not None:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, ensure_ascii=False, default=str)


def setup_logging(level: int, log_format: str, secrets: Iterable[str | None] = ()) -> logging.Handler:
    """Route every logger to stderr in ``log_format`` with the secrets redacted; returns the handler."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        dt_fmt = "%Y-%m-%d %H:%M:%S"
        handler.setFormatter(logging.Formatter("[{asctime}] [{levelname:<8}] {name}: {message}", dt_fmt, style="{"))
    handler.addFilter(SecretRedactor(secrets))
    # The level here too: a logger may let more through for the metrics (RateLimitWatch).
    handler.setLevel(level)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
