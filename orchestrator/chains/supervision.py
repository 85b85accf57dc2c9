"""Chains supervised like services: state saved as blocks come, a crashed anvil restarted with it.

    sup = ChainSupervisor(group, state_dir=config.state.chain_states, pids=config.state.pids)
    sup.start()     # a thread: dump each chain's state when its head moves; restart dead chains
    sup.stop()

What a SIGKILL can lose: the blocks mined after the last dump. The thread polls every
`interval` (0.2 s) and dumps (`anvil_dumpState`) when the head moved, so at most the blocks of
the last moments are lost (`saved_block` tells which). A dump holds the chain while anvil
serializes it, and it grows with the block history: measured 15 ms on a fresh devnet, 32 ms
after 100 messages, 84 ms after 300. Dumping every 0.2 s then took up to 40% of a busy chain
and doubled the delivery latency, so dumps are spaced at least DUMP_SPACING times their own
duration apart (<= 5% of the chain's time): ~0.3 s fresh, ~1.7 s after 300 messages.
A restarted chain comes back on the same port with the same arguments plus
`--load-state` of the dump (accounts, storage, blocks up to `saved_block`), so it never
answers without its state. Only whole dumps are kept: one with a block's effects but not the
block (anvil reads the two apart) is dropped (orchestrator/chains/dumps.py).
A chain paused on purpose (SIGSTOP) is alive: it is neither dumped nor restarted.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.build.toolchain import find_anvil
from orchestrator.chains import dumps
from orchestrator.chains.anvil import ChainGroup, ChainProcess, anvil_args, cache_path_for, wait_chain
from orchestrator.chains.depth import DepthMiner
from orchestrator.chains.rpc import rpc
from orchestrator.config import DEFAULT_MNEMONIC
from orchestrator.services import procs

DUMP_SPACING = 20  # a dump waits 20x the last one's duration after it: <= 5% of a chain's time


@dataclass
class ChainRecord:
    saved_block: int = -1
    saved_at: float = 0.0
    restarts: int = 0
    lost_blocks: list[int] = field(default_factory=list)  # per restart: head seen before the crash - saved block
    head: int = -1
    next_dump: float = 0.0  # time.monotonic() before which the chain is not dumped again
    torn_dumps: int = 0  # dumps dropped because a block was mined into them


@dataclass
class ChainSupervisor:
    group: ChainGroup
    state_dir: Path
    pids: Path | None = None
    accounts: int = 10
    mnemonic: str = DEFAULT_MNEMONIC
    interval: float = 0.2
    on_event: Callable[[str], None] | None = None
    depth: DepthMiner | None = None  # mines blocks a waiting message needs (instant mining, confirmations > 0)
    records: dict[str, ChainRecord] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.state_dir = Path(self.state_dir)
        self.records = {name: ChainRecord() for name in self.group.chains}
        self._stopping = threading.Event()
        self._lock = threading.RLock()
        self._hold = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        for name, chain in self.group.chains.items():
            self._record_pid(name, chain)
            self.save(name)
        self._thread = threading.Thread(target=self._loop, name="chain-supervisor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=3)
        self._thread = None

    @contextmanager
    def held(self) -> Iterator[None]:
        """No dump nor restart while inside (tests look at a crashed chain before it comes back)."""
        self._hold.set()
        with self._lock:  # a round in progress ends first
            pass
        try:
            yield
        finally:
            self._hold.clear()

    def state_file(self, name: str) -> Path:
        return self.state_dir / f"{name}.state"

    # ------------------------------------------------------------ the loop

    def _loop(self) -> None:
        # Restarts spawn from this thread, which lives as long as the supervisor (PR_SET_PDEATHSIG).
        while not self._stopping.wait(self.interval):
            for name in list(self.group.chains):
                try:
                    self.check(name)
                except Exception as exc:
                    print(f"chain supervisor: {name}: {exc}", file=sys.stderr)

    def check(self, name: str) -> None:
        with self._lock:
            if self._stopping.is_set():
                return
            chain = self.group.chains[name]
            if self._hold.is_set():  # no dump nor restart, but the head is followed (`lost_blocks`)
                with contextlib.suppress(Exception):
                    self.records[name].head = int(rpc(chain.rpc_url, "eth_blockNumber", [], timeout=0.5), 16)
                return
            if chain.alive():
                if self.save(name) and self.depth is not None and not chain.config.block_time:
                    self.depth.step(chain.rpc_url, self.records[name].head)
            else:
                self.restart(name)

    def save(self, name: str) -> bool:
        """Dump the chain's state if its head moved since the last dump; False if it did not answer.

        A dump torn by a block mined into it (orchestrator/chains/dumps.py) is dropped and the
        last whole one kept: loading it would keep that block's effects without the block."""
        chain, record = self.group.chains[name], self.records[name]
        try:
            head = int(rpc(chain.rpc_url, "eth_blockNumber", [], timeout=0.5), 16)
            record.head = head
            if head == record.saved_block or time.monotonic() < record.next_dump:
                return True
            started = time.monotonic()
            whole = dumps.take(chain.rpc_url, timeout=5)
            record.next_dump = time.monotonic() + DUMP_SPACING * (time.monotonic() - started)
        except Exception:
            return False
        if whole is None:
            record.torn_dumps += 1
            return True
        path = self.state_file(name)
        tmp = path.with_suffix(f".{threading.get_ident()}.tmp")
        tmp.write_bytes(whole.state)  # what --load-state reads
        tmp.replace(path)
        record.saved_block, record.saved_at = whole.block, time.time()
        return True

    def restore(self, name: str, state: bytes, block: int) -> None:
        """Stop the chain and start it again from `state` (a whole dump of block `block`), frozen.

        What a test checkpoint does with a chain restarted since it was taken: that anvil no
        longer knows the checkpoint's evm_snapshot ids (orchestrator/snapshots/checkpoint.py)."""
        with self._lock:
            path, record = self.state_file(name), self.records[name]
            tmp = path.with_suffix(f".{threading.get_ident()}.tmp")
            tmp.write_bytes(state)
            tmp.replace(path)
            record.saved_block, record.saved_at, record.head = block, time.time(), block
            self.group.chains[name].stop()
            self._spawn(name, path)
            chain = self.group.chains[name]
            rpc(chain.rpc_url, "evm_setIntervalMining", [0])
            rpc(chain.rpc_url, "evm_setAutomine", [False])

    def _spawn(self, name: str, state: Path) -> None:
        old = self.group.chains[name]
        old.drop_cache()  # the dead process's older states: nobody reads them again
        cache = cache_path_for(old.log_path, old.config)
        # --load-state: the chain never answers without its state
        argv = [
            str(find_anvil()),
            *anvil_args(
                old.config,
                self.accounts,
                self.mnemonic,
                load_state=state if state.is_file() else None,
                cache_path=cache,
            ),
        ]
        fresh = ChainProcess(old.config, procs.spawn(argv, old.log_path), old.log_path, cache)
        self.group.chains[name] = fresh
        self._record_pid(name, fresh)
        wait_chain(fresh, timeout=15)

    def restart(self, name: str) -> None:
        """Start the chain again on its port and load its last dump."""
        old, record = self.group.chains[name], self.records[name]
        code = old.process.poll()
        lost = max(0, record.head - record.saved_block)
        self._spawn(name, self.state_file(name))
        fresh = self.group.chains[name]
        if old.config.block_time and float(old.config.block_time).is_integer():
            rpc(fresh.rpc_url, "evm_setAutomine", [False])
            rpc(fresh.rpc_url, "evm_setIntervalMining", [int(old.config.block_time)])
        record.head = record.saved_block
        record.restarts += 1
        record.lost_blocks.append(lost)
        self._event(
            name,
            f"chain {name} exited with code {code}; restarted on port {old.config.port} "
            f"from its state at block {record.saved_block} ({lost} newer block(s) lost; "
            f"restart #{record.restarts})",
        )

    # ------------------------------------------------------------ reporting

    def _record_pid(self, name: str, chain: ChainProcess) -> None:
        if self.pids is not None:
            procs.record_pid(self.pids, name, chain.pid)

    def _event(self, name: str, line: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        log_path = self.group.chains[name].log_path
        with open(log_path.parent / "supervisor.log", "a") as f:
            f.write(f"{stamp} {line}\n")
        if self.on_event is not None:
            self.on_event(line)
