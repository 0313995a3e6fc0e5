"""Typed account values ⇄ JSON, content digests, and the compressed result document.

Account values are typed (str, int, float, bool, date, tuples of scalars or of mappings). JSON
has no date and no tuple, so a date is written as {"$date": "YYYY-MM-DD"} and a tuple as a
list; decoding restores both, so a stored account evaluates exactly as the original did.
Floats survive JSON unchanged (Python writes the shortest repr that reads back bit-exact).
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import zlib
from typing import Any, Mapping

DATE_TAG = "$date"


def encode_value(v: Any) -> Any:
    if isinstance(v, _dt.datetime):  # not expected in account values; keep it honest anyway
        raise TypeError(f"a datetime is not an account value: {v!r}")
    if isinstance(v, _dt.date):
        return {DATE_TAG: v.isoformat()}
    if isinstance(v, (list, tuple)):
        return [encode_value(x) for x in v]
    if isinstance(v, Mapping):
        return {str(k): encode_value(x) for k, x in v.items()}
    return v


def decode_value(v: Any) -> Any:
    if isinstance(v, dict):
        if len(v) == 1 and DATE_TAG in v and isinstance(v[DATE_TAG], str):
            return _dt.date.fromisoformat(v[DATE_TAG])
        return {k: decode_value(x) for k, x in v.items()}
    if isinstance(v, list):
        return tuple(decode_value(x) for x in v)
    return v


def canonical(data: Any) -> str:
    """The one text a value has: sorted keys, no spaces, UTF-8 kept (digests are taken of it)."""
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def encode_facts(values: Mapping[str, Any]) -> str:
    return canonical({k: encode_value(v) for k, v in values.items() if v is not None})


def decode_facts(text: str) -> dict[str, Any]:
    data = json.loads(text)
    return {k: decode_value(v) for k, v in data.items()}


def digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def pack(text: str) -> bytes:
    """The result document, compressed (a review's JSON is ~11 KB; ~5 KB packed). Level 1: half
    the time of the default level for 9 % more bytes (measured on generated accounts)."""
    return zlib.compress(text.encode("utf-8"), 1)


def unpack(blob: bytes) -> str:
    return zlib.decompress(blob).decode("utf-8")
