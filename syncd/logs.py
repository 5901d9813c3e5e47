"""Logging for every syncd command: one loguru sink on stderr, with secrets redacted.

Three formats: readable ``text`` (time, level, the ``run`` id when bound), compact ``json``
(one object a line: time, level, message, exception, and where known the run id, the user's
key, the side and the action — bound with loguru, or set by the sync engine for its lines) and, when stderr is the
systemd journal (``$JOURNAL_STREAM`` names stderr's device and inode), ``text`` without a
timestamp and with the syslog priority prefix (``<3>`` err … ``<7>`` debug) on every line,
so ``journalctl -p err`` works. The stdlib logging of httpx, httpcore, apscheduler,
alembic and sqlalchemy is routed through the same sink.

Redaction is the last step before a line is written: every configured secret, in the
forms it may take on the wire (url-encoded, without the spaces WordPress shows in
application passwords, inside base64 Basic credentials), becomes ``***`` in messages and
in exception text alike; so does the value of any ``password`` (or ``password2``, ``pwd``)
key, however it is written — JSON, a Python repr, a form or query string, percent-encoded,
its quotes escaped — for a password carried in flight (DESIGN §11) is not a configured secret.
It is a second line of defence; adapters never log secrets, nor passwords.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import sys
import threading
import traceback
from collections.abc import Iterable, Mapping
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

from loguru import logger

if TYPE_CHECKING:
    from loguru import Message, Record

    from syncd.config import Settings

MASK = "***"

#: Shorter values are not treated as secrets: masking them would garble every line
#: while protecting nothing worth guessing.
MIN_SECRET_LENGTH = 4

#: Libraries whose stdlib logging goes through loguru, and their level when syncd's own
#: level is not DEBUG (their INFO lines are per request or per job: noise for an operator).
QUIET_LIBRARIES = ("httpx", "httpcore", "apscheduler", "alembic", "sqlalchemy", "filelock")
#: Their level when syncd's is DEBUG: httpx's one line per request helps; SQL echo and
#: httpcore's socket steps drown syncd's own "skipped because" lines.
DEBUG_LIBRARY_LEVELS = {"httpx": logging.INFO, "apscheduler": logging.INFO}

# An Authorization header's credentials, whatever the secret: never worth printing. The
# bare form needs a token that looks encoded (a digit, +, / or =), so that prose such as
# "Basic settings" is left alone.
_AUTH_HEADER = re.compile(r"(?i)(authorization['\"]?\s*[:=,]\s*[(\[]?\s*['\"]?(?:basic|bearer)\s+)[^\s'\"]+")
_AUTH_TOKEN = re.compile(r"\b((?:Basic|Bearer)\s+)(?=[\w.~+/=-]*[\d+/=])[\w.~+/-]{8,}={0,2}")

# A password key and its value: "password": "…", 'password': '…', password=…, password2: …, and
# the same with the quotes escaped (a JSON body inside a repr) or the key percent-encoded.
_PASSWORD_FIELD = re.compile(
    r"""(?ix)
    ( (?<![\w-]) (?:password2?|pwd|new_?pass(?:word)?) (?:\\?["'])? \s* (?:[:=]|%3[ad]) \s* )
    ( \\"(?:\\\\.|(?!\\").)*\\"   # a double-quoted value with its quotes escaped (JSON in a repr)
    | \\'(?:\\\\.|(?!\\').)*\\'   # the same, single-quoted
    | "(?:\\+.|[^"\\])*"?            # a double-quoted value (to the end of the text if cut); a quote
    | '(?:\\+.|[^'\\])*'?            # after any backslashes is inside it (safer to mask too much)
    | [^\s&,;)}\]'"]+ )                 # a bare one, up to a separator
    """)

_lock = threading.Lock()
_patterns: tuple[str, ...] = ()  # one regex source per form of every secret
_pattern: re.Pattern[str] | None = None


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _hex_any_case(byte: int) -> str:
    return "%" + "".join(f"[{h}{h.lower()}]" if h.isalpha() else h for h in f"{byte:02X}")


def _spelled(secret: str) -> str:
    """A regex matching ``secret`` however it was percent-encoded (wholly, partly, either
    hex case), with its spaces given, dropped or encoded (WordPress shows application
    passwords in groups of four and accepts them without the spaces), and with the
    backslash that ``repr()`` puts before quotes and backslashes."""
    parts = []
    for ch in secret:
        encoded = "".join(_hex_any_case(b) for b in ch.encode("utf-8"))
        if ch.isspace():
            parts.append(rf"(?:\s|\+|{encoded})?")
        elif ch in "'\"\\":
            parts.append(rf"(?:\\?{re.escape(ch)}|{encoded})")
        else:
            parts.append(f"(?:{re.escape(ch)}|{encoded})")
    return "".join(parts)


def _patterns_of(secret: str) -> set[str]:
    """Regex sources for the shapes a secret may take in text: spelled out (see
    ``_spelled``), and base64-encoded at any alignment — ``base64("user:" + secret)``
    contains one of the three aligned encodings, whatever the user; at most the first two
    bytes of the secret stay visible, mixed with the user name's last bits."""
    patterns = {_spelled(secret)}
    for value in {secret, re.sub(r"\s+", "", secret)}:
        raw = value.encode("utf-8")
        for skip in range(3):
            tail = raw[skip:]
            aligned = tail[: len(tail) - len(tail) % 3]
            if len(aligned) >= MIN_SECRET_LENGTH:
                patterns.add(re.escape(_b64(aligned)))
                # The secret at the end of the encoded text (a Basic credential): its tail too.
                patterns.add(re.escape(_b64(tail)))
    return patterns


def add_secrets(values: Iterable[str]) -> None:
    """Redact these values (and their encoded forms) from now on, in every output.

    Values accumulate: a secret replaced by a configuration reload is still masked.
    """
    global _patterns, _pattern
    with _lock:
        patterns = set(_patterns)
        for value in values:
            if value and len(value.strip()) >= MIN_SECRET_LENGTH:
                patterns |= _patterns_of(value.strip())
        # Longest first, so that a secret containing another one is masked whole.
        _patterns = tuple(sorted(patterns, key=len, reverse=True))
        _pattern = re.compile("|".join(_patterns)) if _patterns else None


def redact_text(text: str) -> str:
    """``text`` with every known secret and any Basic/Bearer credential replaced by ``***``."""
    pattern = _pattern
    if pattern is not None:
        text = pattern.sub(MASK, text)
    text = _AUTH_HEADER.sub(lambda m: m.group(1) + MASK, text)
    text = _PASSWORD_FIELD.sub(lambda m: m.group(1) + MASK, text)
    return _AUTH_TOKEN.sub(lambda m: m.group(1) + MASK, text)


def secret_values(settings: Settings) -> list[str]:
    """The secrets a configuration holds: WHMCS secret and access key, the application password, the
    intake's secret."""
    values = [settings.whmcs_secret.get_secret_value(), settings.wordpress_password.get_secret_value()]
    if settings.whmcs.access_key is not None:
        values.append(settings.whmcs.access_key.get_secret_value())
    if settings.intake_secret is not None:
        values.append(settings.intake_secret.get_secret_value())
    return [v for v in values if v]


def is_journal(stream: TextIO) -> bool:
    """Whether ``stream`` is connected to the systemd journal (``$JOURNAL_STREAM`` = "dev:ino")."""
    expected = os.environ.get("JOURNAL_STREAM", "")
    if not expected:
        return False
    try:
        st = os.fstat(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return False  # no file descriptor (a StringIO, a closed stream)
    return expected == f"{st.st_dev}:{st.st_ino}"


def syslog_priority(level_no: int) -> int:
    """The syslog priority of a loguru/stdlib level number."""
    if level_no >= 50:
        return 2  # crit
    if level_no >= 40:
        return 3  # err
    if level_no >= 30:
        return 4  # warning
    if level_no >= 25:
        return 5  # notice (loguru's SUCCESS)
    if level_no >= 20:
        return 6  # info
    return 7  # debug, trace


def _exception_text(record: Record) -> str:
    exc = record["exception"]
    if exc is None or exc.type is None:
        return ""
    return "".join(traceback.format_exception(exc.type, exc.value, exc.traceback)).rstrip("\n")


def _context(record: Record) -> str:
    run = record["extra"].get("run")
    return f"[run {run}] " if run is not None else ""


class _Sink:
    """Formats each record itself, so redaction sees the final text, traceback included."""

    def __init__(self, stream: TextIO, fmt: str, journal: bool) -> None:
        self.stream = stream
        self.fmt = fmt
        self.journal = journal

    def __call__(self, message: Message) -> None:
        record = message.record
        text = redact_text(self.render(record))
        if self.journal:
            prefix = f"<{syslog_priority(record['level'].no)}>"
            text = "\n".join(prefix + line for line in text.split("\n"))
        self.stream.write(text + "\n")
        self.stream.flush()

    def render(self, record: Record) -> str:
        exc = _exception_text(record)
        if self.fmt == "json":
            data: dict[str, Any] = {
                "time": record["time"].isoformat(timespec="milliseconds"),
                "level": record["level"].name,
                "message": record["message"],
            }
            known = record["extra"].get("fields") or {}
            for key in FIELDS:
                if key in record["extra"]:
                    data[key] = str(record["extra"][key])
                elif key in known:
                    data[key] = str(known[key])
            if exc:
                data["exception"] = exc
            # Redact the values before encoding too: JSON escaping could hide a secret's
            # exact spelling from the final pass.
            return json.dumps({k: redact_text(v) for k, v in data.items()}, ensure_ascii=False)
        line = f"{record['level'].name:<8} {_context(record)}{record['message']}"
        if not self.journal:
            stamp = record["time"].strftime("%Y-%m-%d %H:%M:%S")
            line = f"{stamp} {line}"
        return f"{line}\n{exc}" if exc else line


#: Library lines that syncd says in its own words instead (the daemon, once per run in flight).
SAID_BY_SYNCD = ("maximum number of running instances",)


class InterceptHandler(logging.Handler):
    """Hands stdlib log records (httpx, apscheduler, …) to loguru, keeping their level."""

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("apscheduler") and any(text in str(record.msg) for text in SAID_BY_SYNCD):
            return
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        # Point loguru at the frame that called logging, not at the logging module.
        frame: FrameType | None = logging.currentframe()
        depth = 0
        while frame is not None and (depth == 0 or frame.f_code.co_filename == logging.__file__):
            frame = frame.f_back
            depth += 1
        message = f"{record.name}: {record.getMessage()}"
        logger.opt(depth=depth, exception=record.exc_info).log(level, "{}", message)


#: The fields the JSON format carries when known: run id, user key, side, action.
FIELDS = ("run", "user", "side", "action")


def _run_fields() -> Mapping[str, str] | None:
    """What the sync engine says its current line is about (``syncd.sync.engine.LOG_FIELDS``),
    if the engine is loaded at all: logging never imports it."""
    engine = sys.modules.get("syncd.sync.engine")
    var = getattr(engine, "LOG_FIELDS", None)
    return var.get() if var is not None else None


def _redacting_patcher(record: Record) -> None:
    # For any sink added later (tests, the CLI's progress display): messages stay clean.
    record["message"] = redact_text(record["message"])
    fields = _run_fields()
    if fields:
        record["extra"]["fields"] = dict(fields)


def setup_logging(
    level: str = "INFO",
    fmt: str = "text",
    *,
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
    library_debug: bool = True,
) -> None:
    """Replace every loguru sink with one on ``stream`` (stderr by default).

    ``fmt`` is ``"text"`` or ``"json"``; under the journal, text lines carry syslog
    priority prefixes and no timestamp (journald adds its own). ``secrets`` are added to
    the redaction set, which only ever grows. ``library_debug=False`` keeps third-party
    libraries at WARNING even at DEBUG (``syncd sync -v``: syncd's own lines only).
    """
    if fmt not in ("text", "json"):
        raise ValueError(f"unknown log format {fmt!r}: use text or json")
    add_secrets(secrets)
    out = sys.stderr if stream is None else stream
    logger.remove()
    logger.configure(patcher=_redacting_patcher)
    # diagnose=False: loguru would otherwise print local variables (a new user's password,
    # a request body) in tracebacks.
    logger.add(
        _Sink(out, fmt, is_journal(out)),
        level=level.upper(),
        format="{message}",
        backtrace=False,
        diagnose=False,
        catch=True,
    )
    root = logging.getLogger()
    root.handlers = [InterceptHandler()]
    debug = level.upper() == "DEBUG" and library_debug
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    for name in QUIET_LIBRARIES:
        lib = logging.getLogger(name)
        lib.handlers = []
        lib.propagate = True
        lib.setLevel(DEBUG_LIBRARY_LEVELS.get(name, logging.WARNING) if debug else logging.WARNING)
