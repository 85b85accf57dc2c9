"""Minimal ABI codec over eth_abi: function calls, event logs and revert reasons.

Built from the compiled artifacts' ABI JSON; no web3 contract machinery on the
hot path.

    gw = Abi(load_abi("MetalayerGateway"))
    data = gw.encode("isDelivered", 901, 3)            # 0x-less bytes: selector + args
    (delivered,) = gw.decode_output("isDelivered", raw_result)
    ev = gw.decode_log(log_dict)                       # -> ("MessageSent", {...}) or None
    gw.topic("MessageSent")                            # 0x.. topic0
    describe_error(revert_data, [gw, registry])        # "AlreadyDelivered(901, 3)", "Refused(42)", "boom"
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from eth_abi import decode, encode
from eth_utils import keccak

from services.common.abi_types import canonical_type as _type
from services.common.abi_types import event_signature


def _hex(data: str | bytes) -> bytes:
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    return bytes.fromhex(data[2:] if data.startswith("0x") else data)


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


class Fn:
    def __init__(self, entry: dict[str, Any]):
        self.name = entry["name"]
        self.inputs = [_type(p) for p in entry.get("inputs", [])]
        self.outputs = [_type(p) for p in entry.get("outputs", [])]
        self.signature = f"{self.name}({','.join(self.inputs)})"
        self.selector = keccak(text=self.signature)[:4]

    def encode(self, *args: Any) -> bytes:
        return self.selector + encode(self.inputs, list(args))

    def decode_output(self, data: str | bytes) -> tuple[Any, ...]:
        return decode(self.outputs, _hex(data))


class Event:
    def __init__(self, entry: dict[str, Any]):
        self.name = entry["name"]
        params = entry.get("inputs", [])
        self.signature = event_signature(entry)
        self.topic0 = "0x" + keccak(text=self.signature).hex()
        self.indexed = [(p["name"], _type(p)) for p in params if p.get("indexed")]
        self.data = [(p["name"], _type(p)) for p in params if not p.get("indexed")]

    def decode(self, log: dict[str, Any]) -> dict[str, Any]:
        args: dict[str, Any] = {}
        for (name, typ), topic in zip(self.indexed, log["topics"][1:], strict=False):
            args[name] = (
                decode([typ], _hex(topic))[0]
                if not typ.endswith("]") and typ not in ("bytes", "string")
                else _hex(topic)
            )
        values = decode([t for _, t in self.data], _hex(log["data"]))
        args.update({name: v for (name, _), v in zip(self.data, values, strict=False)})
        return args


class Abi:
    def __init__(self, abi: list[dict[str, Any]]):
        self.functions = {e["name"]: Fn(e) for e in abi if e.get("type") == "function"}
        self.events = {e["name"]: Event(e) for e in abi if e.get("type") == "event"}
        self.by_topic = {ev.topic0: ev for ev in self.events.values()}
        self.errors = {}
        for e in abi:
            if e.get("type") == "error":
                types = [_type(p) for p in e.get("inputs", [])]
                sig = f"{e['name']}({','.join(types)})"
                self.errors[keccak(text=sig)[:4]] = (e["name"], types)

    def fn(self, name: str) -> Fn:
        return self.functions[name]

    def encode(self, name: str, *args: Any) -> bytes:
        return self.functions[name].encode(*args)

    def decode_output(self, name: str, data: str | bytes) -> tuple[Any, ...]:
        return self.functions[name].decode_output(data)

    def topic(self, name: str) -> str:
        return self.events[name].topic0

    def decode_log(self, log: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        topics = log.get("topics") or []
        ev = self.by_topic.get(topics[0]) if topics else None
        if ev is None:
            return None
        return ev.name, ev.decode(log)


_ERROR_STRING = keccak(text="Error(string)")[:4]
_PANIC = keccak(text="Panic(uint256)")[:4]


MAX_REASON_CHARS = 1024  # a decoded reason is cut here: revert data is the caller's to choose (3 MB seen)


def describe_error(data: str | bytes | None, abis: Iterable[Abi] = ()) -> str:
    """A readable revert reason: Error(string) text, Panic code, a known custom error, or the hex;
    at most MAX_REASON_CHARS (a recipient's revert data is stored, logged and served by the API)."""
    text = _describe(data, abis)
    if len(text) <= MAX_REASON_CHARS:
        return text
    return f"{text[:MAX_REASON_CHARS]}... (cut: {len(text)} characters)"


def _describe(data: str | bytes | None, abis: Iterable[Abi]) -> str:
    raw = _hex(data) if data else b""
    if not raw:
        return "reverted without a reason"
    sel, body = raw[:4], raw[4:]
    try:
        if sel == _ERROR_STRING:
            return decode(["string"], body)[0]
        if sel == _PANIC:
            return f"Panic(0x{decode(['uint256'], body)[0]:02x})"
        for abi in abis:
            if sel in abi.errors:
                name, types = abi.errors[sel]
                values = decode(types, body) if types else ()
                return f"{name}({', '.join(str(_jsonable(v)) for v in values)})"
    except Exception:
        pass
    return "0x" + raw.hex()
