"""A short chaos run: three senders on random routes while the relayer is SIGKILLed and
guardians are killed or stopped (one at a time); every message is delivered exactly once."""

from __future__ import annotations

import random
import threading
import time

from orchestrator.client import send_message


def test_random_crashes_lose_and_duplicate_nothing(guardians_restored):
    net = guardians_restored
    rng = random.Random(4242)
    names = [c.name for c in net.manifest.chains]
    sent: list = []
    stop = threading.Event()

    def sender(account: int, seed: int) -> None:
        r = random.Random(seed)
        while not stop.is_set():
            src, dst = r.sample(names, 2)
            sent.append(send_message(net.manifest, src, dst, b"x" * r.randint(0, 31), account=account))
            time.sleep(r.random() * 0.02)

    threads = [threading.Thread(target=sender, args=(a, a)) for a in (5, 6, 7)]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 12
        while time.monotonic() < deadline:
            time.sleep(rng.uniform(0.5, 2.0))
            action = rng.choice(["kill relayer", "kill guardian", "stop guardian"])
            if action == "kill relayer":
                net.supervisor.kill("relayer")
            elif action == "kill guardian":
                net.supervisor.kill(f"guardian-{rng.randint(0, 2)}")
            else:
                g = f"guardian-{rng.randint(0, 2)}"
                net.supervisor.stop_service(g)
                time.sleep(rng.uniform(0.3, 1.5))
                net.supervisor.start_service(g)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert len(sent) > 100
    net.wait_delivered(sent, timeout=90)
    for dst in names:
        counts = net.delivered_counts(dst)
        mine = [m for m in sent if net.manifest.chain(m.destination).name == dst]
        assert [counts[m.id] for m in mine] == [1] * len(mine), f"lost or duplicated on {dst}"
