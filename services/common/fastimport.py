"""Make `import eth_account` (and so `import web3`) ~0.7 s faster per process.

eth_account imports eth_keyfile, which imports py_ecc's BLS12-381 code only for
version-4 (BLS) keystores; that import precomputes pairing tables and costs
~0.7 s of CPU. With five service processes starting at once on two cores that
is seconds of `devnet up`. `install()` registers light stand-ins for the two
py_ecc modules eth_keyfile reads at import time; the real modules load on
first use of the BLS API (never, in the devnet). Call it before the first
import of eth_account/web3; it does nothing if they are already imported.

It also keeps the interpreter's recursion limit: py_ecc's package import raises it to 100000 for
its BLS code, deep enough that json.loads of a request body nested 100000 deep overflowed the C
stack and killed the API (SIGSEGV) where the usual limit raises a RecursionError (a 400).
"""

from __future__ import annotations

import importlib
import sys
import types

# py_ecc.bls12_381.curve_order (checked against the real module in tests/services/test_common.py)
BLS12_381_CURVE_ORDER = 52435875175126190479447740508185965837690552500527637822603658699938581184513

_STUBS = ("py_ecc.bls", "py_ecc.bls12_381")


def _load_real() -> types.ModuleType:
    for name in _STUBS:
        if getattr(sys.modules.get(name), "__fastimport_stub__", False):
            del sys.modules[name]
    return importlib.import_module("py_ecc.bls")


class _LazyG2ProofOfPossession:
    def __getattr__(self, name: str) -> object:
        return getattr(_load_real().G2ProofOfPossession, name)


def install() -> None:
    if any(m in sys.modules for m in ("eth_keyfile", *_STUBS)):
        return
    limit = sys.getrecursionlimit()
    importlib.import_module("py_ecc")  # its __init__ only sets the limit and lists lazy submodules
    sys.setrecursionlimit(limit)
    bls = types.ModuleType("py_ecc.bls")
    bls.__fastimport_stub__ = True  # type: ignore[attr-defined]
    bls.G2ProofOfPossession = _LazyG2ProofOfPossession()  # type: ignore[attr-defined]
    curve = types.ModuleType("py_ecc.bls12_381")
    curve.__fastimport_stub__ = True  # type: ignore[attr-defined]
    curve.curve_order = BLS12_381_CURVE_ORDER  # type: ignore[attr-defined]
    sys.modules["py_ecc.bls"] = bls
    sys.modules["py_ecc.bls12_381"] = curve
