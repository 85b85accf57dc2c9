"""HTTP API (FastAPI): chains, contracts, guardians, messages and their traces.

`python -m services.api --manifest PATH`. See app.py.
"""
