"""devnet.toml text from a DevnetConfig (`orchestrator.config.to_toml`), kept apart so config.py stays short."""

from __future__ import annotations

import json
from typing import Any


def to_toml(config: Any) -> str:
    """devnet.toml text that `load_config` reads back as `config` (strings JSON-quoted, valid TOML)."""

    def chain(c: Any) -> list[str]:
        block = '"instant"' if c.block_time is None else repr(float(c.block_time))
        return [
            f"name = {json.dumps(c.name)}",
            f"chain_id = {c.chain_id}",
            f"port = {c.port}",
            f"block_time = {block}",
            f"anvil_args = [{', '.join(json.dumps(a) for a in c.anvil_args)}]",
        ]

    g, r = config.guardians, config.relayer
    lines = [
        f"accounts = {config.accounts}",
        f"mnemonic = {json.dumps(config.mnemonic)}",
        f"state_dir = {json.dumps(config.state_dir)}",
        "",
        "[hub]",
        *chain(config.hub),
    ]
    for rollup in config.rollups:
        lines += ["", "[[rollups]]", *chain(rollup)]
    lines += [
        "",
        "[guardians]",
        f"count = {g.count}",
        f"threshold = {g.threshold}",
        f"confirmations = {g.confirmations}",
        f"base_port = {g.base_port}",
        "",
        "[relayer]",
        f"port = {r.port}",
        f"poll_interval = {float(r.poll_interval)!r}",
        f"root_post_interval = {float(r.root_post_interval)!r}",
        f"max_batch = {r.max_batch}",
        f"max_attempts = {r.max_attempts}",
        f"max_age = {float(r.max_age)!r}",
        f"error_artifacts = [{', '.join(json.dumps(a) for a in r.error_artifacts)}]",
        "",
        "[api]",
        f"port = {config.api.port}",
        f"event_streams = {config.api.event_streams}",
        f"reads = {config.api.reads}",
        "",
        "[solvers]",
        f"count = {config.solvers.count}",
        f"fee_bps = {config.solvers.fee_bps}",
        f"base_port = {config.solvers.base_port}",
    ]
    if config.governance:
        lines += ["", "[governance]", *(f"{k} = {json.dumps(v)}" for k, v in config.governance)]
    return "\n".join(lines) + "\n"
