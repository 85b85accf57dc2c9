"""Guardian: follows every chain's head and signs EIP-712 state-root attestations.

`python -m services.guardian --index I --manifest PATH`. See service.py.
"""
