"""Issue 10, "Done when", against one running devnet (real anvil, guardians, relayer process, API):
source rewinds between sends, no free rides, inline trie leaves, and rewards after a slash."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from eth_utils import keccak, to_checksum_address
from web3 import Web3
from web3.exceptions import ContractCustomError

from orchestrator.services import pidfile
from orchestrator.testing import SentMessage
from services.protocol import Message, fetch_message_proofs
from services.protocol.erc7930 import encode_evm
from services.protocol.messages import commitment_slot
from tests.conftest import free_config
from tests.contracts.test_calldata_trie import _colliding, _has_inline_node
from tests.e2e.conftest import Net

INSUFFICIENT_FEE = Web3.keccak(text="InsufficientFee(uint256,uint256,uint256)")[:4]
TOO_MANY_ROUNDS = Web3.keccak(text="TooManyRounds(uint256,uint256)")[:4]
RALLY_NEEDS_OWNER = Web3.keccak(text="RallyNeedsOwner(address)")[:4]


@pytest.fixture(scope="module")
def anet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    config = free_config(1500, state_dir=tmp_path_factory.mktemp("issue10") / "state")
    with Net.start(config, guardian_args=("--allow-equivocation-for-tests",)) as n:
        pidfile.write(n.devnet.config.state.pid_file, pidfile.Recorded.of(os.getpid()))  # so the `devnet` CLI finds it
        yield n


def rpc(net: Net, chain: str, method: str, *params: Any) -> Any:
    answer = net.w3[chain].provider.make_request(method, list(params))
    assert "error" not in answer, answer
    return answer["result"]


def relayer_knows(net: Net, mid: str) -> bool:
    return httpx.get(f"{net.relayer_url}/v1/messages/{mid}", timeout=5).status_code == 200


def status_of(net: Net, mid: str) -> str | None:
    trace = net.trace(mid)
    return trace["status"] if trace else None


class GuardiansDown:
    """All guardians stopped: the relayer sees messages but cannot deliver them (no quorum)."""

    def __init__(self, net: Net) -> None:
        self.net = net
        self.names = [n for n in net.supervisor.names() if n.startswith("guardian-")]

    def __enter__(self) -> GuardiansDown:
        for name in self.names:
            self.net.supervisor.stop_service(name)
        return self

    def __exit__(self, *exc: object) -> None:
        for name in self.names:
            self.net.supervisor.start_service(name)


def send_seen(net: Net, payload: bytes, src: str = "rollup-a", account: int = 1) -> SentMessage:
    msg = net.send(src, "rollup-b", payload, account=account)
    net.wait_for(f"the relayer to ingest {msg.id}", lambda: relayer_knows(net, msg.id), timeout=30)
    return msg


def assert_rewound_away(net: Net, gone: list[SentMessage], dst: str = "rollup-b") -> None:
    for m in gone:
        net.wait_for(f"{m.id} orphaned", lambda m=m: status_of(net, m.id) == "orphaned", timeout=30)
        assert not net.is_delivered(m)
    counts = net.delivered_counts(dst)
    assert all(counts[m.id] == 0 for m in gone)


def test_messages_sent_after_an_evm_revert_are_delivered_and_rewound_ones_orphaned(anet: Net) -> None:
    net = anet
    snapshot = rpc(net, "rollup-a", "evm_snapshot")
    kept = net.send("rollup-a", "rollup-b", b"delivered, then rewound", account=1)
    net.wait_delivered(kept, timeout=30)
    with GuardiansDown(net):
        rewound = [send_seen(net, f"rewound {i}".encode()) for i in range(2)]
        assert rpc(net, "rollup-a", "evm_revert", snapshot) is True
        after = [net.send("rollup-a", "rollup-b", f"after {i}".encode(), account=1) for i in range(3)]
    assert [m.nonce for m in after] == [kept.nonce, *(m.nonce for m in rewound)]  # nonces reused
    net.wait_delivered(after, timeout=60)
    counts = net.delivered_counts("rollup-b")
    assert all(counts[m.id] == 1 for m in after) and counts[kept.id] == 1
    assert_rewound_away(net, rewound)


def test_a_send_right_after_an_evm_revert_with_everything_running_is_delivered(anet: Net) -> None:
    """What test suites do between tests: revert the source, send again at the same height."""
    net = anet
    snapshot = rpc(net, "rollup-a", "evm_snapshot")
    first = net.send("rollup-a", "rollup-b", b"test one", account=2)
    net.wait_delivered(first, timeout=30)
    assert rpc(net, "rollup-a", "evm_revert", snapshot) is True
    second = net.send("rollup-a", "rollup-b", b"test two", account=2)
    assert (second.nonce, second.block) == (first.nonce, first.block) and second.id != first.id
    net.wait_delivered(second, timeout=60)
    counts = net.delivered_counts("rollup-b")
    assert counts[first.id] == 1 and counts[second.id] == 1


def test_messages_of_blocks_replaced_by_anvil_reorg_are_orphaned_and_later_ones_delivered(anet: Net) -> None:
    net = anet
    with GuardiansDown(net):
        gone = send_seen(net, b"reorged away", src="hub", account=3)
        rpc(net, "hub", "anvil_reorg", 1, [])  # the message's block replaced by an empty one
        assert not net.contract("hub", "MetalayerGateway").functions.isCommitted(gone.id).call()
        later = net.send("hub", "rollup-b", b"after the reorg", account=3)
    assert later.nonce == gone.nonce and later.id != gone.id
    net.wait_delivered(later, timeout=60)
    assert net.delivered_counts("rollup-b")[later.id] == 1
    assert_rewound_away(net, [gone])


def _poor(net: Net, chain: str) -> str:
    """An account with gas money but no ERA and no prepaid fee balance."""
    poor = to_checksum_address(keccak(text="issue10/no-era")[:20])
    rpc(net, chain, "anvil_setBalance", poor, hex(10**20))
    rpc(net, chain, "anvil_impersonateAccount", poor)
    return poor


def _refused(fn: Any, sender: str, selector: bytes) -> None:
    with pytest.raises(ContractCustomError) as err:
        fn.call({"from": sender})
    assert bytes.fromhex(str(err.value.data)[2:])[:4] == selector, err.value.data


def test_zero_amount_era_transfers_and_the_examples_give_no_free_rides(anet: Net) -> None:
    net = anet
    a, b = net.chain("rollup-a").chain_id, net.chain("rollup-b").chain_id
    poor = _poor(net, "rollup-a")
    gw = net.contract("rollup-a", "MetalayerGateway")
    era = net.contract("rollup-a", "EraToken")
    assert era.functions.balanceOf(poor).call() == 0 and gw.functions.feeBalance(poor).call() == 0
    nonce = gw.functions.outboundNonce().call()
    _refused(era.functions.crosschainTransfer(encode_evm(b, poor), 0), poor, INSUFFICIENT_FEE)
    tx = era.functions.crosschainTransfer(encode_evm(b, poor), 0).transact({"from": poor, "gas": 500_000})
    assert net.w3["rollup-a"].eth.wait_for_transaction_receipt(tx, timeout=30).status == 0
    assert gw.functions.outboundNonce().call() == nonce  # nothing was sent

    counter = net.contract("rollup-a", "CrossChainCounter")
    pp_a, pp_b = net.contract("rollup-a", "PingPong"), net.contract("rollup-b", "PingPong")
    _refused(counter.functions.increment(b, 1), poor, INSUFFICIENT_FEE)
    _refused(pp_a.functions.start(b, 1), poor, INSUFFICIENT_FEE)
    _refused(pp_a.functions.start(b, 2**255), net.account(3), TOO_MANY_ROUNDS)
    assert gw.functions.outboundNonce().call() == nonce

    # a third party cannot start a rally (its returns would be paid by the floats) ...
    _refused(pp_a.functions.start(b, 2), net.account(3), RALLY_NEEDS_OWNER)
    assert gw.functions.outboundNonce().call() == nonce
    gw_b = net.contract("rollup-b", "MetalayerGateway")
    fee_ab, fee_ba = gw.functions.quoteFee(b, 32).call(), gw_b.functions.quoteFee(a, 32).call()
    # ... but may serve a single ball: one fee for them, nothing from the floats
    before = _float(net, "rollup-a") + _float(net, "rollup-b")
    received = pp_a.functions.received().call() + pp_b.functions.received().call()
    caller_before = gw.functions.feeBalance(net.account(3)).call()
    net.transact("rollup-a", pp_a.functions.start(b, 1), account=3)
    assert gw.functions.feeBalance(net.account(3)).call() == caller_before - fee_ab
    _rally_ends(net, pp_a, pp_b, received + 1)
    assert _float(net, "rollup-a") + _float(net, "rollup-b") == before

    # the owner's longest rally: the owner pays the serve, the floats exactly MAX_ROUNDS - 1 returns
    rounds = pp_a.functions.MAX_ROUNDS().call()
    before = _float(net, "rollup-a") + _float(net, "rollup-b")
    received = pp_a.functions.received().call() + pp_b.functions.received().call()
    net.transact_as_owner("rollup-a", pp_a.functions.start(b, rounds))
    _rally_ends(net, pp_a, pp_b, received + rounds)
    # rollup-b replied twice, rollup-a once: rounds - 1 returns paid by the floats
    assert rounds == 4 and before - _float(net, "rollup-a") - _float(net, "rollup-b") == fee_ab + 2 * fee_ba


def _rally_ends(net: Net, pp_a: Any, pp_b: Any, total: int) -> None:
    """Both twins together reach `total` balls received, and no ball follows."""

    def received() -> int:
        return int(pp_a.functions.received().call() + pp_b.functions.received().call())

    net.wait_for("the rally to end", lambda: received() == total, timeout=60)
    time.sleep(2)  # room for a ball that should not exist
    assert received() == total


def _float(net: Net, chain: str) -> int:
    """What PingPong on `chain` can pay replies with: ERA it holds plus any prepaid balance."""
    pp = net.addresses["PingPong"]
    era, gw = net.contract(chain, "EraToken"), net.contract(chain, "MetalayerGateway")
    return era.functions.balanceOf(pp).call() + gw.functions.feeBalance(pp).call()


def test_two_messages_whose_commitment_leaves_are_inline_nodes_are_delivered(anet: Net) -> None:
    net = anet
    src, dst = net.chain("rollup-a").chain_id, net.chain("rollup-b").chain_id
    sender, recipient = net.account(0), net.manifest.address("CrossChainCounter")
    gw = net.contract("rollup-a", "MetalayerGateway")
    nonce = gw.functions.outboundNonce().call() + 1

    def keys(n: int) -> dict[bytes, bytes]:
        """commitment trie key -> payload, for the message with nonce `n` and each candidate payload."""
        words = b"".join(x.to_bytes(32, "big") for x in (src, dst, n))
        head = words + bytes(12) + bytes.fromhex(sender[2:]) + bytes(12) + bytes.fromhex(recipient[2:])
        return {
            keccak(commitment_slot(keccak(head + keccak(p)))): p for p in (i.to_bytes(4, "big") for i in range(150_000))
        }

    p1, p2 = _colliding(keys(nonce), keys(nonce + 1))
    sent = [net.send("rollup-a", "rollup-b", p, recipient=recipient, account=0) for p in (p1, p2)]
    assert [m.nonce for m in sent] == [nonce, nonce + 1]
    messages = [Message(m.source, m.destination, m.nonce, m.sender, m.recipient, m.payload) for m in sent]
    _, storage_proofs = fetch_message_proofs(net.w3["rollup-a"], gw.address, messages, sent[1].block)
    assert all(_has_inline_node(p) for p in storage_proofs), "the pair does not make inline leaves"
    net.wait_delivered(sent, timeout=60)
    counts = net.delivered_counts("rollup-b")
    assert all(counts[m.id] == 1 for m in sent)


def test_a_whale_outside_the_set_earns_nothing_from_a_slash_and_the_network_still_delivers(anet: Net) -> None:
    """Last in this module: it slashes guardian 2 (the relayer's equivocation watcher does)."""
    net = anet
    staking, era = net.contract("hub", "GuardianStaking"), net.contract("hub", "EraToken")
    whale, stake = net.account(4), 900_000 * 10**18
    net.transact("hub", era.functions.approve(staking.address, stake), account=4)
    net.transact("hub", staking.functions.stake(stake), account=4)
    honest = [g.address for g in net.manifest.guardians.members[:2]]
    bad = net.manifest.guardians.members[2]
    net.transact("hub", staking.functions.syncRewards(), account=9)
    before = [staking.functions.pendingRewards(g).call() for g in honest]

    msg = net.send("rollup-a", "rollup-b", b"to equivocate on")
    net.wait_delivered(msg, timeout=30)
    answer = httpx.post(f"{bad.url}/v1/test/equivocate/{src_id(net)}/{msg.block}", timeout=10)
    assert answer.status_code == 200, answer.text
    net.wait_for("the slash", lambda: staking.functions.stakeOf(bad.address).call()[3], timeout=30)
    net.transact("hub", staking.functions.syncRewards(), account=9)
    assert staking.functions.pendingRewards(whale).call() == 0
    gained = [staking.functions.pendingRewards(g).call() - b for g, b in zip(honest, before, strict=True)]
    assert all(g >= 4_500 * 10**18 for g in gained), gained  # 90% of the 10,000 ERA slashed, split by stake
    for c in net.manifest.chains:
        reg = net.contract(c.name, "StateRootRegistry")
        net.wait_for(f"removal on {c.name}", lambda r=reg: not r.functions.isGuardian(bad.address).call(), timeout=30)
    net.wait_delivered(net.send("rollup-b", "rollup-a", b"after the slash"), timeout=30)


def src_id(net: Net) -> int:
    return net.chain("rollup-a").chain_id
