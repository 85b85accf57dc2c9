"""How the CLI prints: colour and symbols on a terminal (rich), plain text when piped or NO_COLOR is set,
JSON with --json.

    paint("DOWN", "bold red")     # ANSI-styled on a terminal, "DOWN" otherwise
    status_label("delivered")     # the state coloured by what it means
    emit_json(doc)                # one JSON document on stdout
"""

from __future__ import annotations

import json
import os
import sys
import unicodedata
from functools import lru_cache
from typing import Any, TextIO

from rich.color import ColorSystem
from rich.console import Console
from rich.style import Style

STATUS_STYLES = {
    "delivered": "green",
    "up": "green",
    "ok": "green",
    "pending": "yellow",
    "submitted": "cyan",
    "retrying": "yellow",
    "failed": "bold red",
    "invalid": "bold red",
    "DOWN": "bold red",
}


@lru_cache(maxsize=4)
def _color_system(stream_id: int) -> ColorSystem | None:
    stream = sys.stderr if stream_id == 2 else sys.stdout
    console = Console(file=stream)
    if not console.is_terminal or os.environ.get("NO_COLOR") or console.color_system is None:
        return None
    return ColorSystem.STANDARD


def paint(text: str, style: str, stream: TextIO | None = None) -> str:
    system = _color_system(2 if stream is sys.stderr else 1)
    return Style.parse(style).render(text, color_system=system) if system else text


def status_label(status: str) -> str:
    return paint(status, STATUS_STYLES.get(status.split(",")[0], ""))


def tick(ok: bool = True) -> str:
    return paint("\u2713", "green") if ok else paint("\u2717", "bold red")


def emit_json(doc: Any, out: TextIO | None = None) -> None:
    print(json.dumps(doc, indent=2, default=str), file=out or sys.stdout)


def printable(text: str) -> str:
    """`text` with control characters escaped repr-style (\\n, \\x1b): what the CLI prints from chain data
    (a revert string, a proposal description) stays on its line and cannot restyle the terminal."""
    return "".join(repr(c)[1:-1] if _unsafe(c) else c for c in text)


def _unsafe(c: str) -> bool:
    # Cc: C0/C1 controls and DEL; Zl/Zp: line breaks to str.splitlines; Cs: undecodable argv bytes
    return unicodedata.category(c) in ("Cc", "Zl", "Zp", "Cs")


def clean(doc: Any) -> Any:
    """`doc` (a JSON-like trace) with every string printable()."""
    if isinstance(doc, str):
        return printable(doc)
    if isinstance(doc, dict):
        return {k: clean(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [clean(v) for v in doc]
    return doc


def error_line(message: str) -> str:
    return f"{paint('error:', 'bold red', sys.stderr)} {printable(message)}"
