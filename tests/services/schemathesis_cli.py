"""One way to run schemathesis (every check, every phase) against a live service's OpenAPI document.

Budget: `max_examples` per operation, one worker, a timeout per request and one for the whole run;
a fixed seed so a failure reproduces.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def run_schemathesis(
    schema_url: str,
    workdir: Path,
    config: str = "",
    max_examples: int = 25,
    request_timeout: float = 10,
    extra: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """`schemathesis run --checks all` with `config` as its schemathesis.toml, in `workdir`."""
    (workdir / "schemathesis.toml").write_text(config)
    cmd = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        schema_url,
        "--checks",
        "all",
        "--max-examples",
        str(max_examples),
        "--workers",
        "1",
        "--request-timeout",
        str(request_timeout),
        "--seed",
        "7",
        "--no-color",
        *extra,
    ]
    return subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=300)


def report(done: subprocess.CompletedProcess[str]) -> str:
    return done.stdout[-8000:] + done.stderr[-2000:]


def route_table(app: object, doc: dict) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """(what a services.common.http App serves, what its OpenAPI document describes) as (METHOD, regex).

    /openapi.json itself is left out of both: it serves the document, it is not in it."""
    import re

    served = {(method, regex.pattern) for method, regex, _, _ in app.routes}  # type: ignore[attr-defined]
    served.discard(("GET", "^/openapi.json$"))
    described = {
        (method.upper(), "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path) + "$")
        for path, ops in doc["paths"].items()
        for method in ops
    }
    return served, described
