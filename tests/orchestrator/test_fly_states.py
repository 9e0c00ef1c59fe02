"""Fly's machine states onto ours: the table is total over what Fly documents, and pure."""

from __future__ import annotations

import pytest
from cial_app.orchestrator import Health, MachineState
from cial_app.orchestrator.fly_states import FLY_STATES, health_of, state_of

# Every state in the "Machine states" table of Fly's Machines API guide, and the two failure
# states its Go client knows.
DOCUMENTED = {
    "created": MachineState.CREATED,
    "starting": MachineState.RESTARTING,
    "started": MachineState.RUNNING,
    "stopping": MachineState.STOPPED,
    "stopped": MachineState.STOPPED,
    "suspending": MachineState.PAUSED,
    "suspended": MachineState.PAUSED,
    "replacing": MachineState.RESTARTING,
    "replaced": MachineState.REMOVING,
    "destroying": MachineState.REMOVING,
    "destroyed": MachineState.ABSENT,
    "failed": MachineState.DEAD,
    "launch_failed": MachineState.DEAD,
}


@pytest.mark.parametrize(("fly", "ours"), sorted(DOCUMENTED.items()))
def test_each_documented_state_maps(fly: str, ours: MachineState) -> None:
    assert state_of(fly) is ours


def test_the_table_is_exactly_the_documented_states() -> None:
    assert set(FLY_STATES) == set(DOCUMENTED)


def test_only_started_is_serving_and_only_started_and_coming_up_are_up() -> None:
    assert [fly for fly, ours in FLY_STATES.items() if ours is MachineState.RUNNING] == ["started"]
    assert sorted(fly for fly, ours in FLY_STATES.items() if ours.is_up) == [
        "replacing",
        "started",
        "starting",
    ]


def test_a_state_fly_adds_later_is_dead_not_guessed() -> None:
    assert state_of("hibernating") is MachineState.DEAD


@pytest.mark.parametrize(
    ("checks", "health"),
    [
        (None, Health.UNKNOWN),
        ([], Health.UNKNOWN),
        ([{"status": "passing"}], Health.HEALTHY),
        ([{"status": "passing"}, {"status": "warning"}], Health.STARTING),
        ([{"status": "passing"}, {"status": "critical"}], Health.UNHEALTHY),
    ],
)
def test_checks_become_health(checks: list[dict[str, str]] | None, health: Health) -> None:
    assert health_of(checks) is health
