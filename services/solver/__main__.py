"""`python -m services.solver --manifest PATH --index I [--port P] [--db PATH] [--fee-bps N]
[--low-watermark USDC] [--target USDC] [--min-margin S]`"""

from __future__ import annotations

import argparse
import asyncio
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path

from services.common import fastimport

fastimport.install()

from services.common import http, logs, suspend  # noqa: E402
from services.common import manifest as manifest_mod  # noqa: E402
from services.solver.terms import register  # noqa: E402
from services.solver.validation import SOLVER_MIN_MARGIN  # noqa: E402

BASE_PORT = 9300


def _usdc(text: str) -> int:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not an amount: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"amount must be >= 0, got {text}")
    return int(value * 10**6)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m services.solver", description="Metalayer devnet intent solver")
    p.add_argument("--manifest", default=".devnet/manifest.json")
    p.add_argument("--index", type=int, default=0, help="solver index: its key is keccak('metalayer-devnet/solver/I')")
    p.add_argument("--port", type=int, help=f"health HTTP port (default {BASE_PORT} + index)")
    p.add_argument("--db", help="SQLite state (default: <state_dir>/run/solver-I.sqlite)")
    p.add_argument(
        "--fee-bps", type=int, help="fee the solver requires, in basis points of the output (default: manifest, else 5)"
    )
    p.add_argument("--low-watermark", type=_usdc, default=_usdc("20000"), help="USDC; refill a chain below it")
    p.add_argument("--target", type=_usdc, default=_usdc("50000"), help="USDC; a refilled chain gets back to it")
    p.add_argument(
        "--min-margin", type=int, default=SOLVER_MIN_MARGIN, help="seconds a fill must leave before the deadline"
    )
    p.add_argument("--log-level", default="INFO")
    return p.parse_args(argv)


async def run(args: argparse.Namespace) -> None:
    from services.solver.service import Solver, SolverSettings

    m = manifest_mod.load(args.manifest)
    advertised = {s.index: s.fee_bps for s in m.intents.solvers} if m.intents else {}
    fee = args.fee_bps if args.fee_bps is not None else (advertised.get(args.index) or 5)
    settings = SolverSettings(
        fee_bps=fee, min_margin=args.min_margin, low_watermark=args.low_watermark, target=args.target
    )
    db_path = Path(args.db) if args.db else m.run_dir / f"solver-{args.index}.sqlite"
    port = args.port if args.port is not None else BASE_PORT + args.index
    register(m.run_dir, args.index, fee, args.min_margin, port)  # the planner quotes these terms
    # suspend/resume in place (test resets): each resume builds a fresh Solver on the restored store
    host = suspend.Suspendable(
        lambda: Solver(m, args.index, db_path, settings), suspend.token_file(m.run_dir, f"solver-{args.index}")
    )
    await http.serve(host, port)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.index < 0:
        print("solver: --index must be >= 0", file=sys.stderr)
        raise SystemExit(2)
    logs.setup(f"solver-{args.index}", args.log_level)
    try:
        asyncio.run(run(args))
    except KeyError as exc:  # a contract missing from the manifest: intents not deployed
        print(f"solver: {exc.args[0]}", file=sys.stderr)
        raise SystemExit(1) from None
    except FileNotFoundError as exc:
        print(f"solver: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
