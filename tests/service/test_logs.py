"""Logging: formats, the journal's priority prefixes, stdlib routing, and redaction of secrets."""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, quote_plus

import httpx
import pytest
from loguru import logger

from syncd import config, logs
from tests.service.helpers import ACCESS_KEY, APP_PASSWORD, SECRET, config_text

ALL_SECRETS = (SECRET, APP_PASSWORD, ACCESS_KEY)


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    yield
    logger.remove()
    logger.configure(patcher=None)
    logger.add(sys.stderr)
    logging.getLogger().handlers = []
    monkey = os.environ.pop("JOURNAL_STREAM", None)
    del monkey


def forms(secret: str, user: str = "syncd") -> set[str]:
    """Every spelling of a secret that must never be written."""
    out = {secret, quote(secret), quote(secret, safe=""), quote_plus(secret), repr(secret)[1:-1]}
    nospace = secret.replace(" ", "")
    out |= {nospace, quote(nospace)}
    for value in (secret, nospace):
        out.add(base64.b64encode(f"{user}:{value}".encode()).decode())
        out.add(base64.b64encode(value.encode()).decode().rstrip("="))
    return out


def assert_clean(text: str) -> None:
    for secret in ALL_SECRETS:
        for form in forms(secret):
            assert form not in text, f"a form of a secret leaked: {form!r}"


def test_text_format_has_time_level_and_run_id() -> None:
    out = io.StringIO()
    logs.setup_logging("INFO", "text", stream=out)
    logger.info("plain line")
    logger.bind(run=42).info("updated user {}", "ann@example.com")
    logger.debug("hidden at INFO")
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("INFO     plain line")
    assert lines[0][:4].isdigit() and lines[0][4] == "-"  # starts with a date
    assert "INFO     [run 42] updated user ann@example.com" in lines[1]
    assert not lines[0].startswith("<")


def test_json_format_is_one_object_per_line() -> None:
    out = io.StringIO()
    logs.setup_logging("DEBUG", "json", stream=out)
    logger.bind(run=7, user="ann@example.com").debug("skipped: nothing changed")
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("it failed")
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["level"] == "DEBUG" and first["message"] == "skipped: nothing changed"
    assert first["run"] == "7" and first["user"] == "ann@example.com"
    assert "T" in first["time"]
    assert second["level"] == "ERROR" and "ValueError: boom" in second["exception"]
    assert "run" not in second


def _journal_file(tmp_path: Path) -> io.TextIOWrapper:
    stream = open(tmp_path / "journal.log", "w+", encoding="utf-8")  # noqa: SIM115 - closed by the test
    st = os.fstat(stream.fileno())
    os.environ["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
    return stream


def test_journal_lines_carry_syslog_priorities_and_no_timestamp(tmp_path: Path) -> None:
    stream = _journal_file(tmp_path)
    with stream:
        assert logs.is_journal(stream)
        logs.setup_logging("DEBUG", "text", stream=stream)
        logger.debug("a skip")
        logger.info("a write")
        logger.warning("a warning")
        logger.error("an error")
        logger.critical("a disaster")
        try:
            raise RuntimeError("deep")
        except RuntimeError:
            logger.exception("with a traceback")
        stream.seek(0)
        lines = stream.read().splitlines()
    assert lines[:5] == [
        "<7>DEBUG    a skip",
        "<6>INFO     a write",
        "<4>WARNING  a warning",
        "<3>ERROR    an error",
        "<2>CRITICAL a disaster",
    ]
    # A traceback spans lines; each must carry the priority or journald files it as info.
    rest = lines[5:]
    assert rest[0] == "<3>ERROR    with a traceback"
    assert len(rest) > 3 and all(line.startswith("<3>") for line in rest)
    assert rest[-1] == "<3>RuntimeError: deep"


def test_journal_stream_of_another_file_is_not_the_journal(tmp_path: Path) -> None:
    other = _journal_file(tmp_path)
    other.close()
    out = io.StringIO()
    with open(tmp_path / "plain.log", "w", encoding="utf-8") as plain:
        assert not logs.is_journal(plain)
    assert not logs.is_journal(out)
    logs.setup_logging("INFO", "text", stream=out)
    logger.error("oops")
    assert not out.getvalue().startswith("<")


def test_stdlib_loggers_go_through_loguru_and_libraries_are_quiet_at_info() -> None:
    out = io.StringIO()
    logs.setup_logging("INFO", "text", stream=out)
    logging.getLogger("apscheduler.scheduler").info("Added job 'sync' to job store")
    logging.getLogger("httpx").info("HTTP Request: GET https://x/ 200")
    logging.getLogger("apscheduler.executors").warning("Run time of job was missed")
    logging.getLogger("alembic.runtime").error("migration failed")
    text = out.getvalue()
    assert "Added job" not in text and "HTTP Request" not in text
    assert "WARNING  apscheduler.executors: Run time of job was missed" in text
    assert "ERROR    alembic.runtime: migration failed" in text


def test_at_debug_library_lines_come_through() -> None:
    out = io.StringIO()
    logs.setup_logging("DEBUG", "text", stream=out)
    logging.getLogger("httpx").info("HTTP Request: GET https://x/ 200")
    assert "INFO     httpx: HTTP Request: GET https://x/ 200" in out.getvalue()


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown log format"):
        logs.setup_logging("INFO", "xml")


def test_redact_text_masks_every_spelling() -> None:
    logs.add_secrets(ALL_SECRETS)
    for secret in ALL_SECRETS:
        for user in ("", "a", "ab", "syncd"):
            for form in forms(secret, user):
                assert "***" in logs.redact_text(f"x {form} y")
                assert_clean(logs.redact_text(f"x {form} y"))
    assert logs.redact_text("Basic settings kept; nothing secret here") == "Basic settings kept; nothing secret here"
    assert logs.redact_text("Authorization: Basic dXNlcjpwYXNzd29yZA==") == "Authorization: Basic ***"
    assert logs.redact_text("{'authorization': 'Bearer abc.def'}") == "{'authorization': 'Bearer ***'}"


@pytest.mark.parametrize("password", ["Tr0ub4dor&3 horse", 'sp "quoted" \'both\' é', "a,b;c}d"])
def test_a_password_keys_value_is_masked_in_every_spelling(password: str) -> None:
    """Issue 14: a password in flight is no configured secret, so its key is what gives it away: JSON,
    a repr of a dict or of a JSON body, a form or query string (percent-encoded), password2, pwd."""
    body = json.dumps({"id": 3, "password": password})
    spellings = [
        body, repr(body), repr(body.encode()), repr({"password": password}), str({"password2": password}),
        f"password={quote_plus(password)}&id=3", f"pwd={quote(password, safe='')}", f"PASSWORD: {password!r}",
        f"password%3D{quote(password, safe='')}", json.dumps({"data": body}), f'"new_password":"{password}"',
    ]
    for text in spellings:
        masked = logs.redact_text(f"before {text} after")
        assert "***" in masked, text
        for part in (password, quote_plus(password), quote(password, safe=""), json.dumps(password)[1:-1]):
            # the whole value is gone, and no fragment of it longer than a separator run survives
            assert part not in masked, (text, masked)
        assert masked.startswith("before "), masked
    prose = "password for WHMCS client #3 not carried; the password was dropped; passwords: WHMCS to WordPress"
    assert logs.redact_text(prose) == prose  # prose about passwords is left alone


def test_short_values_are_not_treated_as_secrets() -> None:
    logs.add_secrets(["", "ab", "  "])
    assert logs.redact_text("ab cd") == "ab cd"


def test_secret_values_of_a_configuration(tmp_path: Path) -> None:
    path = tmp_path / "syncd.toml"
    path.write_text(config_text())
    settings = config.load(path, env={})
    assert sorted(logs.secret_values(settings)) == sorted(ALL_SECRETS)


class _Echo(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture()
def loopback_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _leaky_function(password: str) -> None:
    # A local variable holding a secret: loguru's "diagnose" would print it.
    secret_copy = password + ""
    raise RuntimeError(f"the server refused {secret_copy!r} for user syncd")


@pytest.mark.parametrize("fmt", ["text", "json", "journal"])
def test_no_secret_in_any_output(fmt: str, tmp_path: Path, loopback_server: str) -> None:
    """Messages, arguments, exceptions, tracebacks, stdlib records and httpx's own debug
    logging of a request that carries every secret: nothing leaks, in every format."""
    if fmt == "journal":
        stream: io.TextIOBase = _journal_file(tmp_path)
    else:
        stream = io.StringIO()
    logs.setup_logging("DEBUG", "json" if fmt == "json" else "text", secrets=ALL_SECRETS, stream=stream)  # type: ignore[arg-type]

    logger.info("connecting with secret {} and key {}", SECRET, ACCESS_KEY)
    logger.bind(run=1, user=APP_PASSWORD).warning(f"inline f-string {APP_PASSWORD}")
    try:
        _leaky_function(APP_PASSWORD)
    except RuntimeError:
        logger.exception("the write failed")
    try:
        raise ValueError({"secret": SECRET, "form": quote_plus(APP_PASSWORD)})
    except ValueError as exc:
        logger.opt(exception=exc).error("bad reply: {!r}", exc)
        logging.getLogger("syncd.test").error("stdlib saw %s", SECRET, exc_info=True)
    with httpx.Client(auth=("syncd", APP_PASSWORD)) as client:
        response = client.get(f"{loopback_server}/api", params={"secret": SECRET, "accesskey": ACCESS_KEY})
        assert response.status_code == 200
    logging.getLogger("httpx").warning("headers: %s", dict(response.request.headers))

    if isinstance(stream, io.StringIO):
        text = stream.getvalue()
    else:
        stream.seek(0)
        text = stream.read()
        stream.close()
    # The test can fail: the lines are there, with their secrets masked.
    assert "connecting with secret *** and key ***" in text
    assert "the write failed" in text and "RuntimeError" in text
    assert "HTTP Request: GET" in text  # httpx's own log line, with the query string
    assert "Basic ***" in text  # the Authorization header, dumped
    assert text.count("***") >= 8
    assert_clean(text)
