"""Suspend and resume running services in place (services/common/suspend.py), all at once.

    done = suspend(services, run_dir)    # names that answered; the others must be killed instead
    failed = resume(done, run_dir)       # names that did not come back; restart those

A service is any object with `name` and `spec.health_url` (the supervisor's Service). Each call
carries the token the service wrote to the run directory at its start.
"""

from __future__ import annotations

import http.client
import json
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from services.common.suspend import token_file

SUSPEND_TIMEOUT = 10.0
RESUME_TIMEOUT = 30.0  # a resume starts the instance: connects to every chain, reads the registries


def _base_url(service: Any) -> str:
    return str(service.spec.health_url).removesuffix("/health")


def _call(service: Any, run_dir: Path, action: str, timeout: float) -> bool:
    # urllib, not httpx: an httpx client builds an SSL context per call (~10-40 ms on a loaded box)
    try:
        token = token_file(run_dir, service.name).read_text().strip()
        request = urllib.request.Request(
            f"{_base_url(service)}/admin/{action}", method="POST", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            state = json.loads(response.read()).get("state")
    except (OSError, ValueError, http.client.HTTPException):  # URLError/HTTPError are OSErrors
        return False
    return state == ("suspended" if action == "suspend" else "running")


def _each(services: Sequence[Any], run_dir: Path, action: str, timeout: float) -> dict[str, bool]:
    if not services:
        return {}
    with ThreadPoolExecutor(max_workers=len(services)) as pool:
        answers = pool.map(lambda s: _call(s, run_dir, action, timeout), services)
        return {s.name: ok for s, ok in zip(services, answers, strict=True)}


def suspend(services: Sequence[Any], run_dir: Path) -> list[str]:
    """Suspend every service at once; returns the names that are suspended now."""
    return [name for name, ok in _each(services, run_dir, "suspend", SUSPEND_TIMEOUT).items() if ok]


def resume(services: Sequence[Any], run_dir: Path) -> list[str]:
    """Resume every service at once; returns the names that did NOT come back."""
    return [name for name, ok in _each(services, run_dir, "resume", RESUME_TIMEOUT).items() if not ok]
