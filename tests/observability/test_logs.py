"""LOG_FORMAT=json: one object a line with the interaction's context; and in either format the
token and the database password never reach the log, whichever way a line carries them."""

from __future__ import annotations

import io
import json
import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.observability.logs import REDACTED, setup_logging
from bot.settings import SettingsError, load_settings

TOKEN = "MTIzNDU2Nzg5.log-test.never-in-a-log"
PASSWORD = "p4ssw0rd-never-in-a-log"


@pytest.fixture
def root_log() -> Iterator[None]:
    """setup_logging replaces the root logger's handlers: put pytest's back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def write_every_kind_of_line(log_format: str) -> str:
    stream = io.StringIO()
    handler = setup_logging(logging.DEBUG, log_format, [TOKEN, PASSWORD, None])
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    log = logging.getLogger("bot.test")
    log.info("plain line with the interaction %s", 42, extra={"guild": 7, "reference": "ab12cd34"})
    log.warning("login with %s to postgresql://bot:%s@db/hyosan", TOKEN, PASSWORD)
    try:
        raise RuntimeError(f"Authorization: Bot {TOKEN} rejected (password {PASSWORD})")
    except RuntimeError:
        log.exception("unexpected error [ref %s]", "ff00ff00", extra={"reference": "ff00ff00"})
    logging.getLogger("discord.http").debug("headers %r", {"Authorization": f"Bot {TOKEN}"}, stack_info=True)
    return stream.getvalue()


@pytest.mark.usefixtures("root_log")
def test_json_lines_carry_the_context_and_no_secret() -> None:
    output = write_every_kind_of_line("json")
    assert TOKEN not in output
    assert PASSWORD not in output
    lines = [json.loads(line) for line in output.splitlines()]
    assert len(lines) == 4  # a traceback stays inside its line
    first, second, third, _ = lines
    assert {"time", "level", "logger", "message"} <= first.keys()
    assert (first["level"], first["logger"], first["message"]) == ("INFO", "bot.test", "plain line with the interaction 42")
    assert (first["guild"], first["reference"]) == (7, "ab12cd34")
    assert first["time"].endswith("+00:00")
    assert REDACTED in second["message"]
    assert third["reference"] == "ff00ff00"
    assert "RuntimeError" in third["exception"]
    assert REDACTED in third["exception"]


@pytest.mark.usefixtures("root_log")
def test_text_lines_stay_readable_and_redacted() -> None:
    output = write_every_kind_of_line("text")
    assert TOKEN not in output
    assert PASSWORD not in output
    assert "[INFO    ] bot.test: plain line with the interaction 42" in output
    assert "Traceback (most recent call last)" in output


def test_health_needs_a_metrics_port(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = tmp_path / ".env"
    env.write_text("METRICS_PORT=\n")
    assert main(["health", "--env-file", str(env)]) == 2
    assert "health needs METRICS_PORT" in capsys.readouterr().err


@pytest.mark.usefixtures("root_log")
def test_health_says_when_nothing_answers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:  # a port of this computer that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = tmp_path / ".env"
    env.write_text(f"METRICS_PORT={port}\n")
    assert main(["health", "--env-file", str(env)]) == 1
    said = json.loads(capsys.readouterr().out)
    assert said["status"] == "unreachable"
    assert f"127.0.0.1:{port}/readyz" in said["reason"]


@pytest.mark.parametrize(
    ("line", "named"),
    [("METRICS_PORT=70000", "METRICS_PORT"), ("METRICS_PORT=metrics", "METRICS_PORT"), ("LOG_FORMAT=xml", "LOG_FORMAT")],
)
def test_a_bad_operating_setting_is_one_line_naming_it(tmp_path: Path, line: str, named: str) -> None:
    env = tmp_path / ".env"
    env.write_text(line + "\n")
    with pytest.raises(SettingsError, match=f"setting {named}: "):
        load_settings(env)


def test_operating_settings_default_to_off_loopback_and_text(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("METRICS_PORT=\nMETRICS_HOST=\nLOG_FORMAT= JSON \n")
    settings = load_settings(env)
    assert (settings.metrics_port, settings.metrics_host, settings.log_format) == (None, "127.0.0.1", "json")
