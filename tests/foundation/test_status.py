"""`devnet status` judges each process by its own health check, not by a neighbour's."""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Iterator

import pytest

from orchestrator.cli.status import probe_service


@pytest.fixture
def health_server() -> Iterator[tuple[str, dict]]:
    """A /health endpoint answering whatever the test puts in `answer` (status, body)."""
    answer: dict = {"status": 200, "body": {"status": "ok"}}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            data = json.dumps(answer["body"]).encode()
            self.send_response(answer["status"])
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", answer
    finally:
        server.shutdown()
        server.server_close()


def test_a_service_waiting_for_a_dead_chain_is_up_and_names_the_chain(health_server):
    url, answer = health_server
    assert probe_service(url).label() == "up"
    answer.update(
        status=503,
        body={
            "status": "starting",
            "chains": {"901": {"name": "rollup-a", "connected": True}, "902": {"name": "rollup-b", "connected": False}},
        },
    )
    state = probe_service(url)
    assert state.answered and not state.healthy
    assert state.label() == "up, no link to rollup-b"


def test_a_service_that_does_not_answer_is_down():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    state = probe_service(f"http://127.0.0.1:{port}")
    assert not state.answered and state.label() == "DOWN"
