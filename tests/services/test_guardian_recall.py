"""The guardian's hand decoder of AttestationSubmitted logs (services/guardian/recall.py) against
eth_abi, on any signer set; and on arbitrary bytes it answers or raises ValueError, nothing else."""

from __future__ import annotations

import contextlib

from eth_abi import encode
from eth_utils import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from services.guardian.recall import ATTESTATION_SUBMITTED_TOPIC, _signed_by

addresses = st.binary(min_size=20, max_size=20)
signatures = st.binary(min_size=0, max_size=130)


def test_topic_is_the_registry_event():
    sig = b"AttestationSubmitted(uint256,uint256,bytes32,bytes32,address[],bytes[])"
    assert "0x" + keccak(sig).hex() == ATTESTATION_SUBMITTED_TOPIC


@settings(max_examples=300, deadline=None)
@given(
    st.binary(min_size=32, max_size=32),
    st.binary(min_size=32, max_size=32),
    st.lists(st.tuples(addresses, signatures), max_size=8, unique_by=lambda t: t[0]),
    addresses,
)
def test_signed_by_matches_eth_abi(block_hash, state_root, signed, outsider):
    data = encode(
        ["bytes32", "bytes32", "address[]", "bytes[]"],
        [block_hash, state_root, ["0x" + a.hex() for a, _ in signed], [s for _, s in signed]],
    )
    for address, sig in signed:
        assert _signed_by(data, address) == (block_hash, state_root, sig)
    if outsider not in {a for a, _ in signed}:
        assert _signed_by(data, outsider) is None


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=600), addresses)
def test_malformed_data_is_a_value_error_or_an_answer(data, signer):
    with contextlib.suppress(ValueError):
        _signed_by(data, signer)
