"""services/common: local tx signing, the fast eth_account import, manifest models, the tiny router."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest
from eth_account import Account

from services.common import manifest as manifest_mod
from services.common.error_body import SCHEMA as ERROR_SCHEMA
from services.common.error_body import error_body
from services.common.fastimport import BLS12_381_CURVE_ORDER
from services.common.http import App, HttpError
from services.common.tx import Signer


def test_local_1559_signing_matches_eth_account():
    key = "0x" + "42" * 32
    signer = Signer(key)
    assert signer.address == Account.from_key(key).address
    for to, data in (("0x" + "22" * 20, b"\x01\x02"), (None, b"\x60\x00")):
        raw, tx_hash = signer.sign_1559(901, 7, to, data, 90_000, 10**10, 10**9, value=5)
        tx = {
            "chainId": 901,
            "nonce": 7,
            "maxPriorityFeePerGas": 10**9,
            "maxFeePerGas": 10**10,
            "gas": 90_000,
            "value": 5,
            "data": data,
            "type": 2,
        }
        if to:
            tx["to"] = to
        ref = Account.sign_transaction(tx, key)
        assert raw == ref.raw_transaction and tx_hash == "0x" + ref.hash.hex().removeprefix("0x")


def test_fast_import_constant_and_lazy_bls():
    code = "import py_ecc.bls12_381 as b; print(b.curve_order)"
    real = int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert real == BLS12_381_CURVE_ORDER
    code = (
        "from services.common import fastimport; fastimport.install(); import eth_account, sys; "
        "assert 'py_ecc.optimized_bls12_381' not in sys.modules; "
        "from eth_keyfile.keyfile import bls; print(len(bls.SkToPk(5)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "48"  # the real BLS code still works when asked for


def test_manifest_model(tmp_path):
    doc = {
        "chains": [
            {"name": "hub", "chain_id": 900, "role": "hub", "port": 1, "rpc_url": "http://x:1", "ws_url": "ws://x:1"},
            {"name": "rollup-a", "chain_id": 901, "port": 2, "rpc_url": "http://x:2", "ws_url": "ws://x:2"},
        ],
        "keys": {"relayer": {"address": "0xr", "private_key": "0x01"}},
        "guardians": {
            "threshold": 1,
            "members": [{"index": 0, "address": "0xg", "private_key": "0x02", "url": "http://127.0.0.1:9100"}],
        },
        "contracts": {"MetalayerGateway": {"address": "0xgw", "artifact": "contracts/out/MetalayerGateway.json"}},
        "state_dir": str(tmp_path / "st"),
        "extra": {"kept": True},
    }
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(doc))
    m = manifest_mod.load(path)
    assert m.hub.chain_id == 900 and m.chain("rollup-a").chain_id == 901 and m.chain(901).name == "rollup-a"
    assert m.guardians.members[0].port == 9100 and m.relayer.port == 9200
    assert m.run_dir == tmp_path / "st" / "run"
    assert m.address("MetalayerGateway") == "0xgw"
    with pytest.raises(KeyError, match="unknown chain"):
        m.chain("nope")
    with pytest.raises(FileNotFoundError, match="devnet up"):
        manifest_mod.load(tmp_path / "missing.json")


def test_router():
    app = App()

    @app.get("/v1/x/{n:int}")
    async def x(req):
        if req.params["n"] < 0:
            raise HttpError(422, "negative")
        return 200, {"n": req.params["n"], "w": req.query_float("w", 0.0, 0.0, 5.0)}

    async def call(method: str, path: str, qs: bytes = b"") -> tuple[int, dict]:
        sent = []

        async def receive():
            return {"type": "http.request", "body": b""}

        async def send(m):
            sent.append(m)

        await app({"type": "http", "method": method, "path": path, "query_string": qs}, receive, send)
        headers.clear()
        headers.update(dict(sent[0]["headers"]))
        return sent[0]["status"], json.loads(sent[1]["body"])

    headers: dict[bytes, bytes] = {}
    assert asyncio.run(call("GET", "/v1/x/3", b"w=1.5")) == (200, {"n": 3, "w": 1.5})
    assert asyncio.run(call("GET", "/v1/x/3", b"w=1e-1"))[1]["w"] == 0.1
    # Every error is the common body; parameter errors name the parameter.
    status, body = asyncio.run(call("GET", "/v1/x/abc"))
    assert status == 422 and body["error"]["code"] == "invalid_request"
    assert body["error"]["details"] == [
        {"loc": ["path", "n"], "msg": "must be an integer, got 'abc'", "type": "value_error"}
    ]
    assert asyncio.run(call("GET", "/v1/x/-1")) == (422, error_body(422, "negative"))
    # Only plain ASCII decimals: int()/float() alone would take these.
    for bad in ("0x10", "1_0", " 7", "\u0661", "7\n"):
        assert asyncio.run(call("GET", f"/v1/x/{bad}"))[0] == 422, bad
    for bad in (b"w=", b"w=nan", b"w=inf", b"w=1_0", b"w=9", b"w=1&w=2", b"w=%20%201"):
        assert asyncio.run(call("GET", "/v1/x/1", bad))[0] == 422, bad
    assert asyncio.run(call("GET", "/v1/x/" + "9" * 5000))[0] == 422  # int() would raise on 5000 digits
    status, body = asyncio.run(call("POST", "/v1/x/1"))
    assert status == 405 and body["error"]["code"] == "method_not_allowed" and headers[b"allow"] == b"GET"
    assert asyncio.run(call("GET", "/nope")) == (404, error_body(404, "no route /nope"))
    assert b"allow" not in headers


def test_router_error_body_is_the_apis():
    """Guardians and relayer answer errors in exactly the API's body (services/api/errors.py)."""
    from services.api.errors import ErrorBody, body

    ours = error_body(422, "query parameter 'n' bad", [{"loc": ["query", "n"], "msg": "bad", "type": "value_error"}])
    assert ErrorBody.model_validate(ours).model_dump() == ours
    assert json.loads(body(405, "no").body) == error_body(405, "no")
    assert (
        error_body(418, "teapot")["error"]["code"] in ERROR_SCHEMA["properties"]["error"]["properties"]["code"]["enum"]
    )


def test_light_attestation_code_matches_the_protocol_reference():
    from eth_account import Account

    from services.common import attest
    from services.protocol import Attestation, attestation_digest, domain_separator, recover_signer, sign_attestation

    instance = bytes(range(100, 132))
    domain = attest.Domain("0x" + instance.hex())
    assert domain.separator == domain_separator(instance) == domain_separator("0x" + instance.hex())
    key = "0x" + "5a" * 32
    signer = attest.AttestationSigner(key, domain)
    assert signer.address == Account.from_key(key).address
    for n in (0, 1, 12345, 2**40):
        att = Attestation(901, n, bytes(range(32)), bytes(range(32, 64)))
        d = domain.digest(901, n, att.block_hash, att.state_root)
        assert d == attestation_digest(att, instance) == att.digest(instance)
        sig = signer.sign(901, n, att.block_hash, att.state_root)
        assert sig == sign_attestation(att, key, instance)
        assert attest.recover(d, sig) == recover_signer(att, sig, instance) == signer.address
        # another instance: another digest, and the signature recovers to someone else
        other = bytes(32 - 1) + b"\x01"
        assert attest.Domain(other).digest(901, n, att.block_hash, att.state_root) != d
        assert recover_signer(att, sig, other) != signer.address
    with pytest.raises(ValueError):
        attest.recover(d, sig[:64])
    with pytest.raises(ValueError):
        attest.Domain(b"\x01" * 31)


def test_fast_import_keeps_the_recursion_limit_and_deep_json_is_a_400():
    """Seen: py_ecc (under eth_account) raised the limit to 100000 and a body nested 100000 deep
    killed the API with SIGSEGV; at the usual limit json.loads raises RecursionError instead."""
    code = (
        "import sys; limit = sys.getrecursionlimit(); from services.common import fastimport; "
        "fastimport.install(); import eth_account, web3; print(sys.getrecursionlimit() == limit)"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "True\n"

    async def receive():
        return {"type": "http.request", "body": b"[" * 100_000 + b"]" * 100_000}

    from services.common.http import Request

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)  # a service's (above); whatever this test process imported before
    try:
        with pytest.raises(HttpError, match="nested too deeply"):
            asyncio.run(Request("POST", "/", {}, {}, receive).json())
    finally:
        sys.setrecursionlimit(limit)


def test_the_orchestrator_keeps_the_recursion_limit(tmp_path):
    """The CLI and the pytest plugin import web3 through orchestrator modules: before, a CLI
    process ran at py_ecc's limit of 100000, so a manifest nested that deep could overflow the C
    stack (SIGSEGV) instead of failing with one line."""
    code = (
        "import sys; limit = sys.getrecursionlimit(); import orchestrator.testing, orchestrator.cli.main, web3; "
        "print(sys.getrecursionlimit() == limit)"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "True\n"
    manifest = tmp_path / "manifest.json"
    manifest.write_text("[" * 100_000 + "]" * 100_000)
    main = "import sys, orchestrator.testing; from orchestrator.cli.main import main; sys.exit(main())"
    cli = [sys.executable, "-c", main]
    proc = subprocess.run([*cli, "messages", "--manifest", str(manifest)], capture_output=True, text=True)
    assert proc.returncode not in (0, -11), proc
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error:"), proc.stderr[-2000:]
