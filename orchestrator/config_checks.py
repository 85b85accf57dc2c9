"""Per-value checks for devnet.toml (ports, block times, chain ids, names, mnemonic, intervals).

Called by `orchestrator.config.validate`; every failure is one ConfigError line naming the key,
so a bad value is refused before anything starts instead of failing later inside anvil or bind().
"""

from __future__ import annotations

import math
import re
from typing import Any

from orchestrator.config_model import DEFAULT_MNEMONIC, ConfigError

MAX_PORT = 65535
# anvil's --chain-id is a u64; 0 is not a usable EIP-155 chain id.
MAX_CHAIN_ID = 2**64 - 1
# Longest block time accepted (s): anvil takes larger values but the devnet would look stalled.
MAX_BLOCK_TIME = 3600.0
# A chain name is a Compose service name, a log file name and a supervisor entry.
CHAIN_NAME = re.compile(r"[a-z][a-z0-9-]{0,39}")
# Names the devnet's own processes and Compose services use (services/specs.py, docker/render.py).
SERVICE_NAMES = {"api", "relayer", "deployer", "net"}
NUMBERED_SERVICE = re.compile(r"(guardian|solver)-[0-9]+")
MNEMONIC_WORDS = {12, 15, 18, 21, 24}


def check_port(key: str, port: int) -> None:
    if not 1 <= port <= MAX_PORT:
        raise ConfigError(f"{key}: must be 1-{MAX_PORT}, got {port}")


def check_port_range(key: str, base_port: int, count: int) -> None:
    """`count` consecutive ports from `base_port` must all be valid."""
    top = MAX_PORT - max(count - 1, 0)
    if not 1 <= base_port <= top:
        raise ConfigError(f"{key}: must be 1-{top} (with {count} consecutive ports), got {base_port}")


def check_chain_name(key: str, name: str) -> None:
    if not CHAIN_NAME.fullmatch(name):
        raise ConfigError(
            f"{key}: {name!r} is not a valid chain name "
            "(lowercase letters, digits and '-', starting with a letter, at most 40 characters)"
        )
    if name in SERVICE_NAMES or NUMBERED_SERVICE.fullmatch(name):
        raise ConfigError(f"{key}: {name!r} is the name of a devnet service; choose another chain name")


def check_chain_id(key: str, chain_id: int) -> None:
    if not 1 <= chain_id <= MAX_CHAIN_ID:
        raise ConfigError(f"{key}: must be 1-{MAX_CHAIN_ID} (anvil's u64 range), got {chain_id}")


def check_block_time(key: str, block_time: float, minimum: float) -> None:
    if not math.isfinite(block_time):
        raise ConfigError(f"{key}: must be a finite number of seconds, got {block_time}")
    if block_time < 0:
        raise ConfigError(f'{key}: must be "instant" or a positive number of seconds')
    if block_time < minimum:
        raise ConfigError(f"{key}: {block_time} is below the minimum of {minimum} s")
    if block_time > MAX_BLOCK_TIME:
        raise ConfigError(f"{key}: {block_time} is above the maximum of {MAX_BLOCK_TIME:g} s")


def check_mnemonic(mnemonic: str) -> None:
    if mnemonic == DEFAULT_MNEMONIC:
        return
    words = mnemonic.split()
    if len(words) not in MNEMONIC_WORDS:
        raise ConfigError(f"mnemonic: expected 12, 15, 18, 21 or 24 words, got {len(words)}")
    from eth_account.hdaccount.mnemonic import Language, Mnemonic  # slow import: only for custom ones

    if not Mnemonic(Language.ENGLISH).is_mnemonic_valid(mnemonic):
        raise ConfigError("mnemonic: not a valid BIP-39 English mnemonic (unknown word or bad checksum)")


def check_state_dir(state_dir: str) -> None:
    if not state_dir.strip():
        raise ConfigError('state_dir: must not be empty (use a directory path such as ".devnet")')


MAX_EVENT_STREAMS = 256  # each polls the relayer queue 4 times a second
MAX_READS = 64  # each holds a thread, and up to 10 s per RPC on a chain that does not answer


def check_api(api: Any) -> None:
    check_port("api.port", api.port)
    if not 1 <= api.event_streams <= MAX_EVENT_STREAMS:
        raise ConfigError(f"api.event_streams: must be between 1 and {MAX_EVENT_STREAMS}, got {api.event_streams}")
    if not 1 <= api.reads <= MAX_READS:
        raise ConfigError(f"api.reads: must be between 1 and {MAX_READS}, got {api.reads}")


def check_relayer(relayer: Any) -> None:
    check_port("relayer.port", relayer.port)
    for key in ("poll_interval", "root_post_interval", "max_age"):
        value = getattr(relayer, key)
        if not math.isfinite(value):
            raise ConfigError(f"relayer.{key}: must be a finite number of seconds, got {value}")
    if relayer.poll_interval <= 0:
        raise ConfigError(f"relayer.poll_interval: must be > 0 seconds, got {relayer.poll_interval}")
    if relayer.root_post_interval < 0:
        raise ConfigError(f"relayer.root_post_interval: must be >= 0 seconds, got {relayer.root_post_interval}")
    if relayer.max_batch < 1:
        raise ConfigError(f"relayer.max_batch: must be at least 1, got {relayer.max_batch}")
    if relayer.max_attempts < 1:
        raise ConfigError(f"relayer.max_attempts: must be at least 1, got {relayer.max_attempts}")
    if relayer.max_age < 0:
        raise ConfigError(f"relayer.max_age: must be >= 0 seconds (0 = no limit), got {relayer.max_age}")


# anvil flags the devnet sets itself (chains/anvil.py anvil_args), with the key that sets each:
# given again in anvil_args, anvil exits at start ("cannot be used multiple times").
MANAGED_ANVIL_FLAGS = {
    "--host": "(always 127.0.0.1)",
    "--port": "{where}.port",
    "-p": "{where}.port",
    "--chain-id": "{where}.chain_id",
    "--accounts": "accounts",
    "-a": "accounts",
    "--mnemonic": "mnemonic",
    "-m": "mnemonic",
    "--balance": "(10000 ETH a dev account)",
    "--block-time": "{where}.block_time",
    "-b": "{where}.block_time",
    "--load-state": "(the devnet's state cache and snapshots)",
    "--cache-path": "(the devnet's state folder)",
}


def check_anvil_args(where: str, args: list[str]) -> None:
    for arg in args:
        flag = arg.split("=", 1)[0]
        if flag in MANAGED_ANVIL_FLAGS:
            key = MANAGED_ANVIL_FLAGS[flag].format(where=where)
            raise ConfigError(f"{where}.anvil_args: {flag} is set by the devnet ({key.strip('()')})")
