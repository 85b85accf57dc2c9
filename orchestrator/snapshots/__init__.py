"""Whole-devnet snapshots: every chain's state, the relayer queue and the guardians' stores, together.

    save(config, manifest, "before-upgrade")     # chains frozen while dumped: one consistent cut
    names()                                       # ["before-upgrade", ...]
    restore_into(config, lookup(config, "before-upgrade"))   # before `Devnet.start(snapshot=...)`

How the parts stay consistent, and what a load re-binds, is in docs/TESTING.md ("Snapshots").
"""
