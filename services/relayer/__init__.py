"""Relayer: watches gateways, gathers guardian quorums, proves and delivers messages.

`python -m services.relayer --manifest PATH`. See service.py.
"""
