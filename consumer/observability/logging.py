"""structlog set-up: one JSON event per line in production, readable lines on a terminal, and a redaction step.

Stable keys: ``timestamp`` (ISO 8601 UTC), ``level``, ``logger`` (the module, or the standard-library logger's
name), ``event`` (a snake_case name; for a standard-library record its message), then the event's own fields.
Records of the standard library's ``logging`` (aiohttp, asyncio, librdkafka through ``LIBRDKAFKA_LOG``) go
through the same processors and renderer, so every line on stderr is one JSON object. Redaction is the last
processor before rendering, so no code path can log raw PII or a token by accident: keys that name personal data or
secrets are replaced, and e-mail addresses or long digit runs inside any string value are masked.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, Literal

import orjson
import structlog
from structlog.typing import EventDict, WrappedLogger

REDACTED = "[redacted]"
SENSITIVE_KEYS = frozenset(
    {
        "access_token",
        "access-token",
        "token",
        "authorization",
        "password",
        "secret",
        "email",
        "phone",
        "first_name",
        "last_name",
        "zip_code",
        "postal_code",
        "ip",
        "user_agent",
        "idfa",
        "idfv",
        "gaid",
    }
)
_EMAIL = re.compile(r"[^\s@\"'<>]+@[^\s@\"'<>]+\.[A-Za-z]{2,}")
_DIGIT_RUN = re.compile(r"\+?\d[\d\s().-]{6,}\d")
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")


def _mask_digit_run(match: re.Match[str]) -> str:
    # Dotted quads are addresses (broker, endpoint), not phone numbers; the user's ip travels under the `ip` key.
    return match.group(0) if _IPV4.fullmatch(match.group(0)) else REDACTED


def mask_text(text: str) -> str:
    """Mask e-mail addresses and phone-like digit runs inside free text (exception messages, TikTok messages)."""
    return _DIGIT_RUN.sub(_mask_digit_run, _EMAIL.sub(REDACTED, text))


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, MutableMapping):
        return {k: REDACTED if str(k).lower() in SENSITIVE_KEYS else _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(v) for v in value]
    return value


def redact(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: drop sensitive keys' values and mask PII-shaped text anywhere in the event."""
    for key in list(event_dict):
        if key.lower() in SENSITIVE_KEYS:
            event_dict[key] = REDACTED
        elif key != "timestamp":
            event_dict[key] = _redact_value(event_dict[key])
    return event_dict


def _orjson_dumps(obj: Any, default: Any = None) -> str:
    return orjson.dumps(obj, default=default).decode()


LIBRDKAFKA_LOG = logging.getLogger("librdkafka")
"""Pass as the ``logger`` setting of every Kafka client: librdkafka's own lines then come out as JSON events with
``logger=librdkafka`` instead of raw text on stderr (the client calls ``log(level, fmt, *args)``)."""


class _NamedPrintLogger(structlog.PrintLogger):
    """A ``PrintLogger`` that keeps the name it was created for, so ``add_logger_name`` can report it."""

    def __init__(self, file: Any, name: str) -> None:
        super().__init__(file)
        self.name = name


def _named_print_logger(*args: Any) -> _NamedPrintLogger:
    # structlog.get_logger(__name__) passes the module name here.
    return _NamedPrintLogger(sys.stderr, str(args[0]) if args else "tiktok_relay")


def configure_logging(fmt: Literal["json", "console"] = "json", level: str = "info") -> None:
    """Configure structlog, and route the standard library's root logger through the same processors, once per
    process."""
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer(serializer=_orjson_dumps)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    numeric_level = logging.getLevelNamesMapping()[level.upper()]
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]
    structlog.configure(
        processors=[*shared, redact, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=_named_print_logger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, redact, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(numeric_level)
