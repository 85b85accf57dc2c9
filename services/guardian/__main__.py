"""`python -m services.guardian --index I --manifest PATH [--port P] [--db PATH] [--allow-equivocation-for-tests]`"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from services.common import fastimport

fastimport.install()

from services.common import http, logs, suspend  # noqa: E402
from services.common import manifest as manifest_mod  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m services.guardian", description="Metalayer devnet guardian")
    p.add_argument("--index", type=int, required=True, help="guardian index in the manifest")
    p.add_argument("--manifest", default=".devnet/manifest.json")
    p.add_argument("--port", type=int, help="HTTP port (default: from the guardian's manifest url)")
    p.add_argument("--db", help="SQLite file (default: <state_dir>/run/guardian-<index>.sqlite)")
    p.add_argument(
        "--allow-equivocation-for-tests",
        action="store_true",
        help="TEST ONLY: enable POST /v1/test/equivocate/{chain}/{block}, which signs a conflicting root",
    )
    p.add_argument("--log-level", default="INFO")
    return p.parse_args(argv)


async def run(args: argparse.Namespace) -> None:
    from services.guardian.service import Guardian

    m = manifest_mod.load(args.manifest)
    db_path = Path(args.db) if args.db else m.run_dir / f"guardian-{args.index}.sqlite"
    # suspend/resume in place (test resets): each resume builds a fresh Guardian on the restored store
    host = suspend.Suspendable(
        lambda: Guardian(m, args.index, db_path, allow_equivocation=args.allow_equivocation_for_tests),
        suspend.token_file(m.run_dir, f"guardian-{args.index}"),
    )
    await http.serve(host, args.port or host.instance.member.port)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logs.setup(f"guardian-{args.index}", args.log_level)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
