"""The YAML subset compose files need, written without a YAML library (none is a dependency)."""

from __future__ import annotations

import json
import re
from typing import Any

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid YAML double-quoted scalar
    raise TypeError(f"cannot render {value!r} as YAML")


def to_yaml(value: Any, indent: int = 0) -> str:
    """Block mappings, flow lists of scalars, double-quoted strings: enough for compose files."""
    pad = "  " * indent
    out = []
    for key, item in value.items():
        k = key if _PLAIN_KEY.match(key) else json.dumps(key)
        if isinstance(item, dict):
            if not item:
                out.append(f"{pad}{k}: {{}}\n")
            else:
                out.append(f"{pad}{k}:\n{to_yaml(item, indent + 1)}")
        elif isinstance(item, (list, tuple)):
            if any(isinstance(v, (dict, list, tuple)) for v in item):
                raise TypeError("nested lists are not used in compose files here")
            flow = f"{pad}{k}: [{', '.join(_scalar(v) for v in item)}]\n"
            if len(flow) > 112:
                out.append(f"{pad}{k}:\n" + "".join(f"{pad}  - {_scalar(v)}\n" for v in item))
            else:
                out.append(flow)
        else:
            out.append(f"{pad}{k}: {_scalar(item)}\n")
    return "".join(out)
