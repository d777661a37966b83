"""`make test-faults`: journeys through the six services while each is killed (SIGKILL) and restarted, Kafka
is restarted and PostgreSQL is restarted; then the platform-wide invariants and two replays.

Not collected by `make test` (its name does not match `test_*.py`): it restarts the Kafka and PostgreSQL it
runs on, which would break every other test sharing them. Run it alone, on a stack this checkout started:
`make test-faults`, or `pytest tests-e2e/faults/fault_suite.py` with KAFKA_BOOTSTRAP_SERVERS,
DIFE_PG_ADMIN_URL, DIFE_KAFKA_PORT and DIFE_PG_PORT naming that stack. Settings: see `faults.suite`.

"During the journeys" is checked, not assumed: each fault waits for a random point of the journeys (a share
of their steps done) and is logged with the number of journey steps running when it struck; every planned
fault must have struck with steps in flight, before the last journey step ended.
"""

from __future__ import annotations

from servicekit.testing import Infra
from servicekit.testing.plugin import JwtKeys

from faults.suite import Config, dump, run_suite
from faults.supervisor import LOGS, Stack


async def test_journeys_survive_killed_services_and_restarts_and_replays_change_nothing(
    infra: Infra, jwt_keys: JwtKeys
) -> None:
    config = Config.from_env()
    report = await run_suite(
        Stack(infra.kafka_bootstrap, infra.pg_admin_url), jwt_keys.private_pem, jwt_keys.public_pem, config
    )
    LOGS.mkdir(parents=True, exist_ok=True)
    (LOGS / "report.json").write_text(dump(report))
    print(dump(report))
    # every fault struck while journey steps were running (the chaos waits for a point of the journeys)
    struck_in_flight = [f["fault"] for f in report["faults"] if f["during_journeys"] and f["steps_in_flight"]]
    planned = [*report["services"] * config.kills_per_service, "kafka", "postgres"]
    assert sorted(struck_in_flight) == sorted(planned), report["faults"]
    assert report["violations"] == [], report["violations"][:30]
    assert report["statuses"] == {"paid": config.journeys}, (report["statuses"], report["journey_failures"])
    assert report["replay_same_changes"] == [], report["replay_same_changes"]
    assert report["replay_fresh_changes"] == [], report["replay_fresh_changes"]
