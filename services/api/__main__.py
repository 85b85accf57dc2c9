"""`python -m services.api --manifest PATH [--port P] [--queue PATH]`"""

from __future__ import annotations

import argparse
from pathlib import Path

from services.common import fastimport

fastimport.install()

from services.common import logs  # noqa: E402
from services.common import manifest as manifest_mod  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m services.api", description="Metalayer devnet HTTP API")
    p.add_argument("--manifest", default=".devnet/manifest.json")
    p.add_argument("--port", type=int, help="HTTP port (default: manifest api.port)")
    p.add_argument("--queue", help="relayer SQLite queue (default: <state_dir>/run/relayer.sqlite)")
    p.add_argument("--log-level", default="INFO")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    from services.api.app import create_app
    from services.common import guard

    args = parse_args(argv)
    logs.setup("api", args.log_level)
    m = manifest_mod.load(args.manifest)
    queue = Path(args.queue) if args.queue else m.run_dir / "relayer.sqlite"
    app = create_app(m, queue)
    port = args.port or m.api.port
    print(f"api listening on http://127.0.0.1:{port} (docs at /docs)", flush=True)
    # httptools with the devnet's connection limits (services/common/guard.py; h11 had none either:
    # an idle socket was held for ever)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        ws="none",
        lifespan="on",
        **guard.options(),
    )


if __name__ == "__main__":
    main()
