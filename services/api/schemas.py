"""Request and response models of the HTTP API (what /openapi.json publishes)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag, field_validator
from pydantic.json_schema import JsonDict

Status = Literal[
    "pending", "submitted", "delivered", "retrying", "failed", "invalid", "orphaned"
]  # = relayer queue STATUSES

MESSAGE_ID_PATTERN = r"^0[xX][0-9a-fA-F]{64}$"
ADDRESS_PATTERN = r"^0[xX][0-9a-fA-F]{40}$"
MAX_PAYLOAD_BYTES = 128 * 1024  # what the API accepts in one request; the gateway enforces its own limit
MAX_OFFSET = 10**9  # far past any devnet queue, well inside SQLite's 64-bit integers

# Marks a field whose allowed values come from the running devnet's manifest; app.openapi() fills
# them in (chain names and ids as an enum, the last dev account index as a maximum).
CHAIN_REF: JsonDict = {"x-devnet": "chain"}
ACCOUNT_REF: JsonDict = {"x-devnet": "account"}


class ChainOut(BaseModel):
    name: str
    chain_id: int
    role: str
    rpc_url: str
    ws_url: str
    block_time: float | None
    head: int | None = Field(None, description="latest block number, null if the chain does not answer")


class ContractOut(BaseModel):
    name: str
    address: str
    chains: list[int]
    artifact: str | None = Field(None, description="absolute path of the compiled artifact (JSON with abi, bytecode)")
    abi: list[dict[str, Any]] = Field(default_factory=list)


class GuardianOut(BaseModel):
    index: int
    address: str
    url: str
    healthy: bool
    last_signed: dict[str, int | None] = Field(default_factory=dict, description="chain id -> last signed block")
    error: str | None = None


class Party(BaseModel):
    chain_id: int
    name: str | None


class Sent(BaseModel):
    block: int
    block_hash: str | None = None
    tx: str | None = None
    block_time: float | None = None
    mined_at: float | None = None
    seen_at: float | None = None


class Attested(BaseModel):
    block: int | None
    at: float | None


class Submitted(BaseModel):
    tx: str | None
    at: float | None


class Delivered(BaseModel):
    tx: str | None
    block: int | None
    at: float | None
    gas_used_by_batch: int | None = None
    batch_size: int | None = None


class Stages(BaseModel):
    detect_ms: float | None = Field(
        None, description="send mined (its block reached the relayer) -> read from the logs"
    )
    attest_ms: float | None = Field(None, description="seen -> guardian quorum collected")
    prove_ms: float | None = Field(None, description="quorum -> eth_getProof fetched")
    submit_ms: float | None = Field(None, description="proof -> delivery transaction broadcast")
    confirm_ms: float | None = Field(None, description="broadcast -> receipt")
    total_ms: float | None = Field(None, description="send mined -> delivery receipt")


class Attempt(BaseModel):
    model_config = ConfigDict(extra="allow")  # the relayer may record more per attempt

    attempt: int
    started_at: float | None = None
    attested_at: float | None = None
    proved_at: float | None = None
    submitted_at: float | None = None
    settled_at: float | None = None
    tx: str | None = None
    attest_block: int | None = None
    batch_size: int | None = None
    gas_limit: int | None = None
    gas_used: int | None = None
    outcome: str | None = Field(None, description="null while in flight")
    reason: str | None = Field(None, description="decoded revert reason or error")


class FaultSpan(BaseModel):
    id: int
    kind: str = Field(description="kill, pause, resume, partition, reorg, delay, drop, duplicate, equivocate")
    target: str = Field(description="relayer, guardian-i, api or a chain name")
    started_at: float
    ended_at: float | None = Field(None, description="null while still in force")
    status: str
    detail: str = ""
    args: dict[str, Any] = {}
    attempts: list[int] = Field([], description="the delivery attempts it overlapped")


class MessageTrace(BaseModel):
    id: str
    status: str
    source: Party
    destination: Party
    nonce: int
    sender: str
    recipient: str
    payload: str
    finality: str = Field("soft", description="soft (newest attested block) or finalized (confirmations deep)")
    sent: Sent
    attested: Attested | None = None
    proved_at: float | None = None
    submitted: Submitted | None = None
    delivered: Delivered | None = None
    attempts: int = 0
    last_error: str | None = None
    revert_reason: str | None = None
    attempt_log: list[Attempt] | None = Field(
        None, description="every delivery attempt the relayer recorded, oldest first (null in lists)"
    )
    faults: list[FaultSpan] | None = Field(
        None, description="`devnet chaos` faults in force during the message's life, oldest first (null in lists)"
    )
    stages: Stages


class MessageList(BaseModel):
    total: int
    limit: int
    offset: int
    messages: list[MessageTrace]


class Health(BaseModel):
    status: str
    chains: dict[str, bool]
    relayer_queue: bool
    uptime: float


def not_bool(value: Any) -> Any:
    if isinstance(value, bool):  # lax ints take JSON true/false: not an account index or a count
        raise ValueError("expected an integer, got a boolean")
    return value


Int = Annotated[int, BeforeValidator(not_bool)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HexPayload(_Strict):
    hex: str = Field(
        pattern=r"^(0[xX])?([0-9a-fA-F]{2})*$",
        max_length=2 + 2 * MAX_PAYLOAD_BYTES,
        description=f"at most {MAX_PAYLOAD_BYTES} bytes, 0x optional",
    )

    @field_validator("hex")
    @classmethod
    def _bounded(cls, value: str) -> str:
        digits = len(value) - 2 if value[:2].lower() == "0x" else len(value)
        if digits > 2 * MAX_PAYLOAD_BYTES:
            raise ValueError(f"payload longer than {MAX_PAYLOAD_BYTES} bytes")
        return value


class TextPayload(_Strict):
    text: str = Field(
        max_length=MAX_PAYLOAD_BYTES, description=f"sent as its UTF-8 bytes (at most {MAX_PAYLOAD_BYTES})"
    )


class CallPayload(_Strict):
    sig: str = Field(
        max_length=1000,
        examples=["increment(uint256)"],
        description="function signature; the payload is its selector + ABI-encoded args",
    )
    args: list[Any] = Field(
        default_factory=list,
        max_length=64,
        examples=[[7]],
        description=f"JSON values: integers (or decimal/0x strings), 0x hex for bytes, addresses; "
        f"at most {MAX_PAYLOAD_BYTES} bytes encoded",
    )


def _payload_form(value: Any) -> str | None:
    """Which payload model `value` is, by its one key: the error then names that model's problem
    (a text too long) instead of the first union member's (`HexPayload.hex: Field required`)."""
    if isinstance(value, BaseModel):
        return {HexPayload: "hex", TextPayload: "text", CallPayload: "sig"}.get(type(value))
    keys = {"hex", "text", "sig"} & set(value) if isinstance(value, dict) else set()
    return keys.pop() if len(keys) == 1 else None


Payload = Annotated[
    Annotated[HexPayload, Tag("hex")] | Annotated[TextPayload, Tag("text")] | Annotated[CallPayload, Tag("sig")],
    Discriminator(
        _payload_form,
        custom_error_type="payload_form",
        custom_error_message="a payload is an object with exactly one of hex, text or sig",
    ),
]


class SendRequest(_Strict):
    source: str = Field(max_length=64, json_schema_extra=CHAIN_REF, description="source chain, name or id")
    destination: str = Field(max_length=64, json_schema_extra=CHAIN_REF, description="destination chain, name or id")
    recipient: str | None = Field(None, pattern=ADDRESS_PATTERN, description="default: the example CrossChainCounter")
    account: Int = Field(0, ge=0, json_schema_extra=ACCOUNT_REF, description="dev account index (manifest accounts)")
    payload: Payload | None = None

    @field_validator("recipient")
    @classmethod
    def _checksummed(cls, value: str | None) -> str | None:
        from services.common.attest import checksum_ok  # only now: it loads libsecp256k1

        if value is not None and not checksum_ok(value):  # as POST /v1/intents: mixed case is a checksum
            raise ValueError("bad EIP-55 checksum (mixed case must be the checksum; or give all lower case)")
        return value


class SendResult(BaseModel):
    id: str
    source: Party
    destination: Party
    nonce: int
    sender: str
    recipient: str
    payload: str
    tx: str
    block: int


class RetryResult(BaseModel):
    id: str
    status: str
