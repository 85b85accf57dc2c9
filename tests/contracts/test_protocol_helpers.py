"""services.protocol against the contracts' own answers on live chains."""

from __future__ import annotations

import asyncio

import pytest
from eth_utils import keccak
from web3 import AsyncWeb3
from web3.logs import DISCARD

from orchestrator import keys
from services.protocol import (
    COMMITMENTS_SLOT,
    Attestation,
    InteropAddressError,
    Message,
    afetch_proof,
    attestation_digest,
    commitment_slot,
    decode_evm,
    domain_separator,
    encode_evm,
    encode_evm_chain,
    fetch_message_proofs,
    fetch_proof,
    load_abi,
    message_id,
    parse_proof,
    recover_signer,
    sign_attestation,
)
from tests.contracts.conftest import DEV

A, B, HUB = "rollup-a", "rollup-b", "hub"


def test_message_id_slot_and_erc7930_match_the_gateway(net):
    gw = net.c(A, "MetalayerGateway")
    payload = b"\x00\xffpayload" * 7
    msg, receipt = net.send_message(A, B, DEV[4].address, payload, DEV[2].address)
    sent = gw.events.MessageSent().process_receipt(receipt, errors=DISCARD)[0].args
    # ERC-7930 as the contract formats it
    assert sent.sender == encode_evm(net.chain_id[A], DEV[2].address)
    assert decode_evm(sent.recipient) == (net.chain_id[B], DEV[4].address)
    # id and slot as the contract computes them
    assert msg.id == sent.sendId == gw.functions.messageId(msg.as_tuple()).call()
    assert msg.id == message_id(net.chain_id[A], net.chain_id[B], msg.nonce, DEV[2].address, DEV[4].address, payload)
    assert commitment_slot(msg.id) == gw.functions.commitmentSlot(msg.id).call() == msg.slot
    assert COMMITMENTS_SLOT == gw.functions.COMMITMENTS_SLOT().call()
    # tampering with the events is caught
    with pytest.raises(ValueError):
        Message.from_events({**dict(sent), "payload": b"other"}, {"nonce": msg.nonce})


def test_erc7930_chain_only_matches_era_links(net):
    era = net.c(A, "EraToken")
    gw, counterpart = era.functions.getLink(encode_evm_chain(net.chain_id[HUB])).call()
    assert gw == net.addr["MetalayerGateway"]
    assert counterpart == encode_evm(net.chain_id[HUB], era.address)
    assert decode_evm(encode_evm_chain(70000)) == (70000, None)
    assert encode_evm(1, DEV[0].address).hex().startswith("000100000101" + "14")
    for bad in (b"", b"\x00\x02\x00\x00\x01\x01\x00", b"\x00\x01\x00\x00\x05\x01"):
        with pytest.raises(InteropAddressError):
            decode_evm(bad)


def test_attestation_digest_and_signatures_match_the_registry(net):
    reg = net.c(B, "StateRootRegistry")
    att = net.attestation(A)
    digest = att.digest(net.instance_id)
    assert reg.functions.attestationDigest(att.as_tuple()).call() == attestation_digest(att, net.instance_id) == digest
    assert reg.functions.domainSeparator().call() == domain_separator(net.instance_id)
    assert reg.functions.instanceId().call() == bytes.fromhex(net.instance_id[2:])
    # the digest is the same on every chain
    assert net.c(HUB, "StateRootRegistry").functions.attestationDigest(att.as_tuple()).call() == digest
    sigs = [sign_attestation(att, keys.guardian_key(i).private_key, net.instance_id) for i in (0, 1)]
    signers = [recover_signer(att, s, net.instance_id) for s in sigs]
    assert signers == [keys.guardian_key(0).address, keys.guardian_key(1).address]
    reg.functions.verifySignatures(digest, sigs).call()
    block = net.w3[A].eth.get_block(att.block_number)
    assert Attestation.from_block(net.chain_id[A], block) == att
    assert Attestation(1, 2, "0x" + "11" * 32, b"\x22" * 32).block_hash == b"\x11" * 32


def test_proofs_verify_locally_and_on_chain(net):
    msgs = [net.send_message(A, B, DEV[4].address, bytes([i]))[0] for i in range(3)]
    att = net.attestation(A)
    bundle = fetch_proof(net.w3[A], net.addr["MetalayerGateway"], [m.slot for m in msgs], att.block_number)
    assert bundle.verify(att.state_root)
    assert not bundle.verify(b"\x01" * 32)
    assert all(bundle.storage_values[m.slot] == 1 for m in msgs)
    # raw JSON-RPC results parse the same
    raw = net.w3[A].provider.make_request(
        "eth_getProof", [net.addr["MetalayerGateway"], ["0x" + m.slot.hex() for m in msgs], hex(att.block_number)]
    )["result"]
    assert parse_proof(raw, att.block_number) == bundle
    # web3's munged result too
    munged = net.w3[A].eth.get_proof(net.addr["MetalayerGateway"], [int.from_bytes(m.slot, "big") for m in msgs], att.block_number)
    assert parse_proof(munged, att.block_number) == bundle
    # async fetch
    async def fetch():
        aw3 = AsyncWeb3(AsyncWeb3.AsyncHTTPProvider(net.config.chain(A).rpc_url))
        return await afetch_proof(aw3, net.addr["MetalayerGateway"], [m.slot for m in msgs], att.block_number)

    assert asyncio.run(fetch()) == bundle
    # and the gateway accepts exactly these bytes
    net.attest(A, B, att.block_number)
    acct, sps = fetch_message_proofs(net.w3[A], net.addr["MetalayerGateway"], msgs, att.block_number)
    assert acct == bundle.account_proof
    gw = net.c(B, "MetalayerGateway")
    for m, sp in zip(msgs, sps):
        assert gw.functions.verifyStorage(net.chain_id[A], att.block_number, net.addr["MetalayerGateway"], m.slot, acct, sp).call() == (1).to_bytes(32, "big")
    assert keccak(bundle.account_proof[0]) == att.state_root


def test_abi_loading():
    names = {item.get("name") for item in load_abi("MetalayerGateway")}
    assert {"sendMessage", "deliverBatch", "MessageSent", "MessageCommitted"} <= names


def test_commitment_value_and_gas_attribute_helpers(net):
    from services.protocol import MAX_GAS_LIMIT, MAX_PAYLOAD, commitment_value, gas_limit_of, request_relay

    gw = net.c(A, "MetalayerGateway")
    assert gw.functions.MAX_GAS_LIMIT().call() == MAX_GAS_LIMIT and gw.functions.MAX_PAYLOAD().call() == MAX_PAYLOAD
    assert gw.functions.supportsAttribute(request_relay(1)[:4]).call()
    assert commitment_value(0) == 1 and gas_limit_of(commitment_value(123_456)) == 123_456
    with pytest.raises(ValueError):
        gas_limit_of(2)
