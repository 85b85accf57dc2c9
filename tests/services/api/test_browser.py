"""/docs, /redoc and the dashboard rendered by headless Chromium against the devnet's API process.

Offline by construction: Swagger UI and ReDoc come from the API itself (fastapi-offline's bundled
assets), and Chromium runs with networking to anything but 127.0.0.1 unused. Each check reads the
DOM after the page's scripts ran, so a blank page or an error shown on it fails the test.
Needs Debian's `chromium` (.ci/run installs it); skipped with that reason when it is absent.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.services.api.conftest import deploy, wait_for

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (apt-get install chromium)")

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=3000",
]


def render(url: str, tmp: Path, screenshot: Path | None = None) -> str:
    """The DOM after the page's scripts ran (and a screenshot of it, if asked)."""
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    extra = [f"--screenshot={screenshot}", "--window-size=1200,900"] if screenshot else ["--dump-dom"]
    done = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *extra, url], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return re.sub(r"<script\b.*?</script>", "", done.stdout, flags=re.S)  # the rendered page, not its code


def test_swagger_ui_and_redoc_render_from_local_assets(api_net, tmp_path):
    page = httpx.get(f"{api_net.api}/docs").text
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(s.startswith("/") for s in sources), sources  # nothing from a CDN
    dom = render(f"{api_net.api}/docs", tmp_path)
    paths = set(re.findall(r'class="opblock-summary-path" data-path="([^"]+)"', dom))
    assert {"/v1/messages", "/v1/messages/{message_id}", "/v1/messages/{message_id}/retry", "/v1/events"} <= paths
    assert "Failed to load API definition" not in dom
    redoc = render(f"{api_net.api}/redoc", tmp_path)
    assert "Metalayer Devnet API" in redoc and 'id="operation/send_message' in redoc.replace("tag/", "")


@pytest.fixture(scope="module")
def traffic(api_net):
    """One delivered message and one whose recipient reverts, so the relayer retries it (fixed at the end)."""
    toggle = deploy(api_net, "rollup-b", "ToggleRecipient", api_net.manifest.address("MetalayerGateway"))
    fail = toggle.functions.setFailing(True).transact({"from": api_net.accounts[9].address})
    api_net.w3["rollup-b"].eth.wait_for_transaction_receipt(fail)
    ok = api_net.send("hub", "rollup-a", b"dashboard")
    bad = api_net.send("rollup-a", "rollup-b", b"refused", recipient=toggle.address)
    trace = lambda mid: httpx.get(f"{api_net.api}/v1/messages/{mid}", timeout=5).json()  # noqa: E731
    wait_for("delivery", lambda: trace(ok.id).get("status") == "delivered")
    wait_for("failure", lambda: trace(bad.id).get("status") == "retrying")
    yield ok.id, bad.id
    fix = toggle.functions.setFailing(False).transact({"from": api_net.accounts[9].address})
    api_net.w3["rollup-b"].eth.wait_for_transaction_receipt(fix)


def test_dashboard_lists_messages_with_status_colours_and_links(api_net, traffic, tmp_path):
    ok, bad = traffic
    shot = tmp_path / "overview.png"
    render(f"{api_net.api}/", tmp_path, screenshot=shot)
    assert shot.stat().st_size > 15_000  # a blank 1200x900 page compresses to a few KB
    dom = render(f"{api_net.api}/", tmp_path)
    assert 'id="conn" class="live"' in dom and 'id="error"' not in dom
    assert f'href="#/messages/{ok}"' in dom and f'href="#/messages/{bad}"' in dom
    assert 'class="badge s-delivered"' in dom and 'class="badge s-retrying"' in dom
    assert "Refused(42)" in dom
    failed_only = render(f"{api_net.api}/#/?status=retrying", tmp_path)
    assert f'href="#/messages/{bad}"' in failed_only and f'href="#/messages/{ok}"' not in failed_only
    from_hub = render(f"{api_net.api}/#/?source=hub", tmp_path)
    assert f'href="#/messages/{ok}"' in from_hub and f'href="#/messages/{bad}"' not in from_hub


def test_dashboard_message_detail_shows_every_stage_and_the_reason(api_net, traffic, tmp_path):
    ok, bad = traffic
    dom = render(f"{api_net.api}/#/messages/{ok.upper().replace('0X', '0x')}", tmp_path)
    assert ok in dom and 'class="badge s-delivered"' in dom
    stages = re.findall(r'<tr class="stage"><td>(\w+)</td>', dom)
    assert stages == ["sent", "seen", "attested", "proved", "submitted", "delivered"], stages
    failed = render(f"{api_net.api}/#/messages/{bad}", tmp_path)
    assert re.search(r'id="d-reason">[^<]*Refused\(42\)', failed) and 'class="badge s-retrying"' in failed
    assert re.search(r'<tr class="attempt">.*?<td class="reason">[^<]*Refused\(42\)', failed)
    unknown = render(f"{api_net.api}/#/messages/0x{'ab' * 32}", tmp_path)
    assert 'id="conn" class="live"' in unknown and "unknown message id" in unknown


def test_dashboard_shows_disconnected_when_the_api_does_not_answer(api_net, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    dom = render(f"{api_net.api}/?api=http://127.0.0.1:{dead}", tmp_path)
    assert 'id="conn" class="disconnected"' in dom and "disconnected: the API does not answer" in dom


def test_dashboard_shows_faults_in_force_and_ended_and_in_the_trace_of_a_message_they_touched(api_net, tmp_path):
    fault = api_net.chaos("delay", "relayer", seconds=0.0)  # a fault that holds nothing: other tests unaffected
    try:
        sent = api_net.send("hub", "rollup-b", b"during a fault")
        api_net.wait_delivered(sent)
        dom = render(f"{api_net.api}/", tmp_path)
        active = re.findall(r'<tr class="fault f-active"><td>#(\d+) relayer delayed</td><td>[^<]*in force', dom)
        assert active == [str(fault.id)], re.findall(r'<table id="faults">.*?</table>', dom, flags=re.S)
        detail = render(f"{api_net.api}/#/messages/{sent.id}", tmp_path)
        assert re.search(rf'<table id="d-faults">.*?<td>#{fault.id} relayer delayed</td>', detail, flags=re.S)
    finally:
        api_net.heal()
    dom = render(f"{api_net.api}/", tmp_path)
    assert re.search(rf'<tr class="fault f-ended"><td>#{fault.id} relayer delayed</td><td>[^<]*–', dom)
    assert 'class="fault f-active"' not in dom and "0 in force" in dom
