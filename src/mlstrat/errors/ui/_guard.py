"""What the tagging UI accepts and serves: request bodies checked against a schema, image files
checked for what they are.

Requests. Each POST body is a JSON object of exactly the fields of its action, each of one
type (``on`` a JSON boolean, ``position`` a JSON integer, text fields strings); bodies are
capped at :data:`MAX_BODY` bytes and JSON constants (``NaN``, ``Infinity``) and numbers that
overflow are refused. Anything else is a 400 with a one-line reason, never a 500.

Files. A file is served when (1) its exact path text is a value of an image column of the
sheet, (2) following every symbolic link ends at a regular file, (3) that file's name ends in
an image or audio suffix (:data:`MEDIA_TYPES`) and (4) its first bytes are that format's
signature. A link ``img/a.png -> /etc/passwd`` fails (3) and (4); a directory, a device or a
FIFO fails (2).
"""

from __future__ import annotations

import json
import math
import stat
from pathlib import Path
from typing import Any

__all__ = ["MAX_BODY", "IMAGE_TYPES", "AUDIO_TYPES", "MEDIA_TYPES", "SCHEMAS", "BadRequest", "parse_body",
           "servable_file"]

#: the largest request body accepted (a long comment fits many times over)
MAX_BODY = 4 << 20

#: suffix -> media type of the files the UI may show (no SVG: it can carry scripts)
IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".bmp": "image/bmp",
}
#: suffix -> media type of the audio files the UI plays
AUDIO_TYPES = {
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".flac": "audio/flac",
    ".m4a": "audio/mp4",
    ".webm": "audio/webm",
}
MEDIA_TYPES = {**IMAGE_TYPES, **AUDIO_TYPES}
_SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/bmp": (b"BM",),
    "audio/mpeg": (b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"),
    "audio/ogg": (b"OggS",),
    "audio/flac": (b"fLaC",),
    "audio/webm": (b"\x1a\x45\xdf\xa3",),
}
#: formats whose signature is not at byte 0: RIFF containers (WebP, WAV) and ISO boxes (M4A)
_RIFF = {"image/webp": b"WEBP", "audio/wav": b"WAVE"}

#: action -> field -> type; ``bool`` and ``int`` are strict (``"false"`` is not a boolean)
SCHEMAS: dict[str, dict[str, type]] = {
    "tag": {"id": str, "category": str, "on": bool},
    "comment": {"id": str, "text": str},
    "category": {"name": str},
    "position": {"position": int},
}
_TYPE_NAMES = {str: "a string", bool: "true or false", int: "a whole number"}
_MAX_POSITION = 1 << 53


class BadRequest(ValueError):
    """A request body that does not match its action's schema (HTTP 400)."""


def _refuse_constant(name: str) -> Any:
    raise BadRequest(f"{name} is not a number JSON allows")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BadRequest(f"number {text[:20]} is out of range")
    return value


def parse_body(raw: bytes, action: str) -> dict[str, Any]:
    """The validated body of a POST to ``/api/<action>``; :class:`BadRequest` otherwise."""
    if len(raw) > MAX_BODY:
        raise BadRequest(f"the request body is over {MAX_BODY >> 20} MiB")
    try:
        body = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant, parse_float=_finite_float)
    except BadRequest:
        raise
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BadRequest("expected a JSON object") from None
    if not isinstance(body, dict):
        raise BadRequest("expected a JSON object")
    schema = SCHEMAS[action]
    unknown = sorted(set(body) - set(schema))
    if unknown:
        raise BadRequest(f"unknown field {unknown[0]!r} for {action}; expected {', '.join(schema)}")
    for name, kind in schema.items():
        if name not in body:
            raise BadRequest(f"missing field {name!r} for {action}")
        value = body[name]
        ok = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
        if not ok:
            raise BadRequest(f"field {name!r} must be {_TYPE_NAMES[kind]}")
        if kind is int and not 0 <= value < _MAX_POSITION:
            raise BadRequest(f"field {name!r} is out of range")
        if kind is str and not _is_unicode(value):
            raise BadRequest(f"field {name!r} is not valid Unicode (a lone surrogate such as \\ud800); "
                             "send UTF-8 text")
    return body


def _is_unicode(text: str) -> bool:
    """Whether ``text`` can be stored: JSON's ``\\ud800`` decodes to a lone surrogate, which no
    UTF-8 file or SQLite text can hold."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def servable_file(path: Path) -> tuple[Path, str] | None:
    """``(resolved path, media type)`` when ``path`` may be served (see the module rules)."""
    try:
        target = path.resolve(strict=True)
        if not stat.S_ISREG(target.stat().st_mode):
            return None
        media = MEDIA_TYPES.get(target.suffix.lower())
        if media is None:
            return None
        with open(target, "rb") as fh:
            head = fh.read(16)
    except (OSError, RuntimeError):  # missing, unreadable, or a loop of links
        return None
    if media in _RIFF:
        return (target, media) if head[:4] == b"RIFF" and head[8:12] == _RIFF[media] else None
    if media == "audio/mp4":
        return (target, media) if head[4:8] == b"ftyp" else None
    return (target, media) if head.startswith(_SIGNATURES[media]) else None
