"""Property-based: schemathesis (every check) over the guardian's and the relayer's OpenAPI documents.

They run against guardian-0 and the relayer of the package's real devnet (`api_net`, shared with
the API's own schemathesis run): zero 5xx, zero schema violations, every status documented. The
guardians and the relayer serve HTTP through services.common.http, so their documents are written
by hand (services/guardian/openapi.py, services/relayer/openapi.py); this is what keeps them true.

Allowance: the guardian's `wait` is pinned to 0 (a long poll for a block far ahead would only spend
the budget waiting; test_guardian.py covers the long poll). The guardian's test-only equivocation
route is fuzzed in test_guardian.py, on a guardian without a relayer to slash it.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.services.schemathesis_cli import report, run_schemathesis

GUARDIAN_CONFIG = """
[parameters]
"query.wait" = 0
"""

RELAYER_CONFIG = """
[dictionaries.messages]
values = ["{id}"]

[parameters]
"path.message_id" = { dictionary = "messages", probability = 0.5 }
"""


def test_guardian_conforms_to_its_schema(api_net, tmp_path: Path):
    url = api_net.manifest.guardians.members[0].url
    doc = httpx.get(f"{url}/openapi.json", timeout=5).json()
    assert "/v1/test/equivocate/{chain_id}/{block}" not in doc["paths"]  # only with the test flag
    done = run_schemathesis(f"{url}/openapi.json", tmp_path, GUARDIAN_CONFIG, max_examples=30)
    assert done.returncode == 0, report(done)
    assert "Tested: 4" in done.stdout, report(done)


def test_relayer_conforms_to_its_schema(api_net, tmp_path: Path):
    """Half of the message ids drawn are one delivered message, so its row is checked against the schema."""
    sent = api_net.send("hub", "rollup-a", b"schema")
    api_net.wait_delivered(sent)
    config = RELAYER_CONFIG.replace("{id}", sent.id.lower())
    url = f"http://127.0.0.1:{api_net.manifest.relayer.port}"
    done = run_schemathesis(f"{url}/openapi.json", tmp_path, config, max_examples=30)
    assert done.returncode == 0, report(done)
    assert "Tested: 3" in done.stdout, report(done)
