"""The gateway accepts exactly the canonical ERC-7930 recipients that services.protocol.decode_recipient
accepts (property test over encodings, against the real gateway with eth_call)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.protocol import InteropAddressError, decode_recipient, encode_evm
from tests.contracts.conftest import DEV

A, B = "rollup-a", "rollup-b"


@st.composite
def encodings(draw, chain_ids: list[int]) -> bytes:
    """A canonical recipient, then (mostly) one mutation of it, or arbitrary bytes."""
    chain_id = draw(st.one_of(st.sampled_from(chain_ids), st.integers(1, 2**64)))
    addr = draw(st.one_of(st.binary(min_size=20, max_size=20), st.just(b"\0" * 20)))
    good = encode_evm(chain_id, addr)
    ref_len = good[4]
    mutation = draw(st.sampled_from(["none", "none", "leading_zero", "trailing", "truncate", "ref_len",
                                     "addr_len", "version", "chain_type", "random"]))
    if mutation == "leading_zero":
        return good[:4] + bytes([ref_len + 1]) + b"\0" + good[5:]
    if mutation == "trailing":
        return good + draw(st.binary(min_size=1, max_size=3))
    if mutation == "truncate":
        return good[: draw(st.integers(0, len(good) - 1))]
    if mutation == "ref_len":
        return good[:4] + bytes([draw(st.integers(0, 255))]) + good[5:]
    if mutation == "addr_len":
        return good[: 5 + ref_len] + bytes([draw(st.integers(0, 255))]) + good[6 + ref_len :]
    if mutation == "version":
        return draw(st.binary(min_size=2, max_size=2)) + good[2:]
    if mutation == "chain_type":
        return good[:2] + draw(st.binary(min_size=2, max_size=2)) + good[4:]
    if mutation == "random":
        return draw(st.binary(max_size=64))
    return good


def _gateway_verdict(net, recipient: bytes) -> str:
    gw = net.c(A, "MetalayerGateway")
    try:
        gw.functions.sendMessage(recipient, b"", []).call({"from": DEV[0].address})
        return "accepted"
    except Exception:  # noqa: BLE001 - the error name decides below
        return net.revert_error(A, gw.functions.sendMessage(recipient, b"", []))


def test_canonical_examples(_net):
    good = encode_evm(_net.chain_id[B], DEV[1].address)
    assert _gateway_verdict(_net, good) == "accepted"
    for bad in (
        good[:4] + bytes([good[4] + 1]) + b"\0" + good[5:],  # leading-zero chain reference
        good + b"\0",  # trailing byte
        good[:-1],  # short address
    ):
        assert _gateway_verdict(_net, bad) == "InvalidRecipient"
        try:
            decode_recipient(bad)
            raise AssertionError("decode_recipient accepted a non-canonical recipient")
        except InteropAddressError:
            pass


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_gateway_and_python_agree_on_recipients(_net, data):
    raw = data.draw(encodings([_net.chain_id[B], _net.chain_id[A], _net.chain_id["hub"]]))
    verdict = _gateway_verdict(_net, raw)
    try:
        chain_id, _ = decode_recipient(raw)
    except InteropAddressError:
        assert verdict == "InvalidRecipient", raw.hex()
        return
    assert verdict != "InvalidRecipient", raw.hex()
    if chain_id == _net.chain_id[B]:
        assert verdict == "accepted"
