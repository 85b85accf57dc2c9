"""Helpers shared by the guardian, relayer and API: everything they must compute exactly
as the contracts do (see docs/PROTOCOL.md). Each is tested against the contracts on a
live chain in tests/contracts/test_protocol_helpers.py.

    from services.protocol import (
        encode_evm, encode_evm_chain, decode_evm, decode_recipient,  # ERC-7930
        Message, message_id, commitment_slot, COMMITMENTS_SLOT,   # messages
        commitment_value, gas_limit_of, request_relay, MAX_PAYLOAD, MAX_GAS_LIMIT,
        finality, finalized_of, SOFT, FINALIZED,                  # finality attribute
        Attestation, domain_separator, attestation_digest, sign_attestation, recover_signer,  # EIP-712
        StoredRoot, equivocations, Evidence, ATTESTATION_SUBMITTED_TOPIC,  # slashing evidence
        ProofBundle, parse_proof, fetch_proof, afetch_proof, fetch_message_proofs,  # eth_getProof
        compress_storage_proofs,                                  # batch calldata saving
        load_abi, load_artifact, artifact_path, contract,         # ABIs
    )
"""

from services.protocol.abi import artifact_path, contract, load_abi, load_artifact
from services.protocol.attestation import (
    Attestation,
    attestation_digest,
    domain_separator,
    recover_signer,
    sign_attestation,
)
from services.protocol.erc7930 import InteropAddressError, decode_evm, decode_recipient, encode_evm, encode_evm_chain
from services.protocol.evidence import ATTESTATION_SUBMITTED_TOPIC, Evidence, StoredRoot, equivocations
from services.protocol.messages import (
    COMMITMENTS_SLOT,
    FINALIZED,
    MAX_GAS_LIMIT,
    MAX_PAYLOAD,
    SOFT,
    Message,
    commitment_slot,
    commitment_value,
    finality,
    finalized_of,
    gas_limit_of,
    message_id,
    request_relay,
)
from services.protocol.proofs import (
    ProofBundle,
    afetch_proof,
    compress_storage_proofs,
    fetch_message_proofs,
    fetch_proof,
    parse_proof,
)

__all__ = [
    "ATTESTATION_SUBMITTED_TOPIC",
    "Evidence",
    "StoredRoot",
    "equivocations",
    "MAX_GAS_LIMIT",
    "MAX_PAYLOAD",
    "FINALIZED",
    "SOFT",
    "finality",
    "finalized_of",
    "commitment_value",
    "decode_recipient",
    "gas_limit_of",
    "request_relay",
    "COMMITMENTS_SLOT",
    "Attestation",
    "InteropAddressError",
    "Message",
    "ProofBundle",
    "afetch_proof",
    "artifact_path",
    "compress_storage_proofs",
    "attestation_digest",
    "commitment_slot",
    "contract",
    "decode_evm",
    "domain_separator",
    "encode_evm",
    "encode_evm_chain",
    "fetch_message_proofs",
    "fetch_proof",
    "load_abi",
    "load_artifact",
    "message_id",
    "parse_proof",
    "recover_signer",
    "sign_attestation",
]
