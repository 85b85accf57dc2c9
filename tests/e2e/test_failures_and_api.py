"""A reverting recipient, the API's answers, and the CLI's trace."""

from __future__ import annotations

import argparse
import re
import time

import httpx

from orchestrator.cli import messages as messaging


def test_reverting_recipient_shows_retrying_with_reason_then_delivers_after_fix(net, capsys):
    toggle = net.deploy("rollup-b", "ToggleRecipient", net.manifest.address("MetalayerGateway"))
    net.transact("rollup-b", toggle.functions.setFailing(True))
    msg = net.send("rollup-a", "rollup-b", b"try me", recipient=toggle.address)
    trace = net.wait_for(
        "the failure to be recorded", lambda: (t := net.trace(msg.id)) and t["status"] == "retrying" and t, timeout=20
    )
    assert "Refused(42)" in trace["revert_reason"]
    assert not net.is_delivered(msg)
    # `devnet trace <id>` shows the reason
    assert messaging.trace(argparse.Namespace(message_id=msg.id, manifest=net.manifest.path)) == 0
    out = capsys.readouterr().out
    assert "retrying" in out and "Refused(42)" in out
    net.transact("rollup-b", toggle.functions.setFailing(False))
    net.wait_delivered(msg, timeout=30)
    assert toggle.functions.received().call() == 1
    assert toggle.functions.lastPayload().call() == b"try me"
    done = net.wait_for("trace delivered", lambda: (t := net.trace(msg.id)) and t["status"] == "delivered" and t)
    assert done["attempts"] >= 2 and done["revert_reason"] and "Refused(42)" in done["revert_reason"]
    assert net.delivered_counts("rollup-b")[msg.id] == 1


def test_api_answers_and_rejects_bad_input(net):
    api = net.api
    msg = net.send("hub", "rollup-b", b"api")
    net.wait_delivered(msg, timeout=20)
    t = net.wait_for("trace", lambda: (t := net.trace(msg.id)) and t["status"] == "delivered" and t)
    assert t["stages"]["total_ms"] > 0 and t["sent"]["seen_at"] <= t["delivered"]["at"]
    # uppercase hex is the same id
    assert httpx.get(f"{api}/v1/messages/0x{msg.id[2:].upper()}").json()["id"] == msg.id

    for bad in ("nothex", "0x1234", "0x" + "g" * 64, "0x" + "a" * 65):
        r = httpx.get(f"{api}/v1/messages/{bad}")
        assert r.status_code == 422, bad
        assert r.json()["error"]["code"] == "invalid_request" and r.json()["error"]["details"]
    unknown = httpx.get(f"{api}/v1/messages/0x{'ab' * 32}")
    assert unknown.status_code == 404 and "unknown message id" in unknown.json()["error"]["message"]
    assert httpx.get(f"{api}/v1/messages", params={"status": "lost"}).status_code == 422
    r = httpx.get(f"{api}/v1/messages", params={"chain": "nowhere"})
    assert r.status_code == 422 and "unknown chain" in r.json()["error"]["message"]
    assert httpx.get(f"{api}/v1/messages", params={"limit": 0}).status_code == 422

    listed = httpx.get(
        f"{api}/v1/messages", params={"source": "hub", "destination": "rollup-b", "status": "delivered"}
    ).json()
    assert msg.id in {m["id"] for m in listed["messages"]}
    assert all(m["source"]["name"] == "hub" for m in listed["messages"])
    by_id = httpx.get(f"{api}/v1/messages", params={"chain": str(net.manifest.chain("hub").chain_id)}).json()
    assert by_id["total"] >= 1

    chains = httpx.get(f"{api}/v1/chains").json()
    assert {c["name"] for c in chains} == {"hub", "rollup-a", "rollup-b"} and all(c["head"] >= 0 for c in chains)
    contracts = {c["name"]: c for c in httpx.get(f"{api}/v1/contracts").json()}
    assert contracts["MetalayerGateway"]["address"] == net.manifest.address("MetalayerGateway")
    assert contracts["GuardianStaking"]["chains"] == [net.manifest.hub.chain_id]
    guardians = httpx.get(f"{api}/v1/guardians").json()
    assert len(guardians) == 3 and all(g["healthy"] for g in guardians)
    assert all(g["last_signed"][str(net.manifest.chain("rollup-b").chain_id)] >= 0 for g in guardians)
    schema = httpx.get(f"{api}/openapi.json").json()
    assert "/v1/messages/{message_id}" in schema["paths"]
    assert httpx.get(f"{api}/health").json()["status"] == "ok"
    page = httpx.get(f"{api}/")
    assert page.status_code == 200 and "Metalayer Devnet" in page.text and "/v1/messages" in page.text


def test_cli_send_wait_trace_and_logs(net, capsys):
    args = argparse.Namespace(
        source="rollup-b",
        destination="rollup-a",
        payload="hello",
        recipient=None,
        account=4,
        wait=True,
        timeout=20.0,
        manifest=net.manifest.path,
    )
    assert messaging.send(args) == 0
    out = capsys.readouterr().out
    mid = re.search(r"sent (0x[0-9a-f]{64})", out).group(1)
    assert "delivered" in out and "total" in out
    assert messaging.trace(argparse.Namespace(message_id=mid, manifest=net.manifest.path)) == 0
    assert mid in capsys.readouterr().out
    try:
        messaging.trace(argparse.Namespace(message_id="0x12", manifest=net.manifest.path))
        raise AssertionError("malformed id accepted")
    except messaging.MessagingError as exc:
        assert "malformed" in str(exc)
    assert messaging.logs(argparse.Namespace(service="relayer", follow=False, lines=5, manifest=net.manifest.path)) == 0
    assert "relayer |" in capsys.readouterr().out


def test_messages_sent_while_the_relayer_is_down_are_delivered_when_it_returns(net):
    net.supervisor.stop_service("relayer")
    try:
        msg = net.send("rollup-a", "hub", b"while down")
        time.sleep(0.5)
        assert not net.is_delivered(msg)
        # the API finds it in the source gateway's logs even though the relayer has not seen it
        t = net.trace(msg.id)
        assert t is not None and t["status"] == "pending" and "not yet picked up" in t["last_error"]
        assert t["sent"]["block"] == msg.block
    finally:
        net.supervisor.start_service("relayer")
    net.wait_delivered(msg, timeout=20)  # resumed from its cursor
