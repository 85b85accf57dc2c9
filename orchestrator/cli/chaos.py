"""`devnet chaos ...`: faults on a running devnet (kill, pause, resume, partition, reorg, delay,
drop, duplicate, equivocate, heal, list). Each is recorded in `<state>/run/faults.json`; a
fault with `--for` ends on its own (the devnet's warden), any fault ends with `heal`."""

from __future__ import annotations

import argparse
import re
import time
from dataclasses import asdict

from orchestrator.chaos.actions import Chaos, ChaosError
from orchestrator.cli.common import CliError, Parser, find_devnet
from orchestrator.cli.output import emit_json
from services.common.faults import Fault

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m)?$")


def duration(text: str) -> float:
    """ "2s", "500ms", "1m" or plain seconds."""
    match = _DURATION.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 2s, 500ms, 1m)")
    value, unit = float(match.group(1)), match.group(2) or "s"
    return value / 1000 if unit == "ms" else value * 60 if unit == "m" else value


def register(sub: argparse._SubParsersAction) -> None:
    chaos = sub.add_parser("chaos", help="inject faults into a running devnet", description=__doc__)
    chaos.add_argument("--config", help="topology file (default: ./devnet.toml if present, else built-in)")
    chaos.add_argument("--state-dir", help="the devnet's state directory (default: found from here or the running one)")
    kinds = chaos.add_subparsers(dest="kind", required=True, metavar="FAULT", parser_class=Parser)

    def add(name: str, help: str, target: bool = True, timed: bool = True) -> argparse.ArgumentParser:
        p = kinds.add_parser(name, help=help, description=help)
        # also after the fault's name (`chaos list --state-dir X`, like `snapshot list`); SUPPRESS: never
        # resets a value given before it
        p.add_argument("--config", default=argparse.SUPPRESS, help="topology file")
        p.add_argument("--state-dir", default=argparse.SUPPRESS, help="the devnet's state directory")
        p.add_argument("--json", action="store_true", help="print JSON instead of text")
        if target:
            p.add_argument("target", help="relayer, guardian-i, api or a chain name")
        if timed:
            p.add_argument("--for", dest="duration", type=duration, help="end on its own after this long (e.g. 5s)")
        p.set_defaults(func=cmd_chaos)
        return p

    add("kill", "SIGKILL a supervised process (it is restarted; a chain with its state)", timed=False)
    add("pause", "SIGSTOP a supervised process until resumed/healed")
    add("resume", "SIGCONT a paused process", timed=False)
    add("partition", "a guardian stops answering the relayer (SIGSTOP) until healed")
    reorg = add("reorg", "replace the last DEPTH (1..64) blocks of a chain (anvil_reorg)", timed=False)
    reorg.add_argument("depth", type=int)
    delay = add("delay", "the relayer holds every delivery", target=False)
    delay.add_argument("--relayer", dest="seconds", type=duration, required=True, help="hold per batch, e.g. 2s")
    add("drop", "the relayer's deliveries are lost (retried after the fault)", target=False)
    add("duplicate", "the relayer sends every delivery twice", target=False)
    eq = add("equivocate", "a guardian signs a conflicting root for CHAIN BLOCK", timed=False)
    eq.add_argument("chain")
    eq.add_argument("block", type=int)
    heal = add("heal", "end every fault in force (or those on TARGET)", target=False, timed=False)
    heal.add_argument("target", nargs="?", help="only the faults on this process or chain")
    add("list", "show the faults of this run", target=False, timed=False)


def cmd_chaos(args: argparse.Namespace) -> int:
    state = find_devnet(args, require_running=False)
    if not state.pids.is_file():
        raise CliError("no devnet is running (start one with `devnet up`)")
    try:
        chaos = Chaos.for_state(state)
        if args.kind == "list":
            faults = chaos.book.all()
            if args.json:
                emit_json({"faults": [asdict(f) for f in faults]})
            for f in faults if not args.json else []:
                print(describe(f))
            return 0
        if args.kind == "heal":
            ended = chaos.heal(args.target)
            if args.json:  # as recorded now (healed), not as they were
                ids = {f.id for f in ended}
                emit_json({"healed": [asdict(f) for f in chaos.book.all() if f.id in ids]})
            else:
                print(f"healed {len(ended)} fault(s)")
            return 0
        extra: dict[str, object] = {}
        target = getattr(args, "target", None) or "relayer"
        if args.kind == "reorg":
            extra = {"depth": args.depth}
        elif args.kind == "delay":
            extra = {"seconds": args.seconds}
        elif args.kind == "equivocate":
            extra = {"chain": args.chain, "block": args.block}
        fault = chaos.apply(args.kind, target, getattr(args, "duration", None), **extra)
    except ChaosError as exc:
        raise CliError(str(exc)) from None
    if args.json:
        emit_json(asdict(fault))
    else:
        print(describe(fault))
    return 0


def describe(f: Fault) -> str:
    started = time.strftime("%H:%M:%S", time.localtime(f.started_at))
    ends = ""
    if f.status == "active":
        ends = " until healed" if f.until is None else f" for {max(0.0, f.until - time.time()):.1f}s more"
    return f"#{f.id} {started} {f.kind} {f.target} [{f.status}{ends}] {f.detail}".rstrip()
