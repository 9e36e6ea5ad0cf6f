"""JSON from outside (request bodies, the state file, upstream answers) with limits and one error.

`json.loads` alone raises RecursionError on deeply nested input, ValueError on an integer of more
than 4,300 digits, and keeps the last of duplicate keys without a word. Here every such input is a
`JSONError` with a message fit for a log line or a 400 answer, and nothing else escapes.
"""

from __future__ import annotations

import json
import sys
from typing import Any

MAX_DIGITS = sys.get_int_max_str_digits() or 4300


class JSONError(ValueError):
    """Input that is not acceptable JSON; the message says why, never quoting the input."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise JSONError(f"duplicate key {key[:64]!r}")
        out[key] = value
    return out


def loads(data: bytes | str, *, max_bytes: int, strict_keys: bool = True) -> Any:
    """Decode `data`; JSONError when it is larger than `max_bytes`, not UTF-8, not JSON, nested
    deeper than Python can follow, holds a number too long to convert, or (with `strict_keys`)
    repeats a key in an object."""
    if len(data) > max_bytes:
        raise JSONError(f"larger than {max_bytes:,} bytes")
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        hook = _no_duplicates if strict_keys else None
        return json.loads(text, object_pairs_hook=hook)
    except JSONError:
        raise
    except UnicodeDecodeError:
        raise JSONError("not UTF-8") from None
    except RecursionError:
        raise JSONError("nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise JSONError(
            f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    except ValueError:  # an integer beyond Python's conversion limit
        raise JSONError(f"a number longer than {MAX_DIGITS} digits") from None
