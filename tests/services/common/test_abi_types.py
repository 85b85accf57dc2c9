"""abi_types (no eth_abi) spells every event of every compiled contract as services.common.abi does."""

from __future__ import annotations

import json

import pytest

from services.common.abi import Abi
from services.common.abi_types import event_topic
from tests.services.conftest import REPO


def test_event_topics_agree_with_the_full_abi():
    artifacts = sorted((REPO / "contracts" / "out").glob("*.json"))  # built by the session fixture
    events = 0
    for artifact in artifacts:
        abi = json.loads(artifact.read_text()).get("abi", [])
        full = Abi(abi)
        for name in full.events:
            assert event_topic(abi, name) == full.topic(name), (artifact.stem, name)
            events += 1
        with pytest.raises(KeyError):
            event_topic(abi, "NoSuchEvent")
    assert len(artifacts) > 20 and events > 50, (len(artifacts), events)
