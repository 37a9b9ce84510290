"""Rendezvous ownership and lease arithmetic: pure, no store, fake time."""

from __future__ import annotations

from paramedic.agent.lease import Standing, is_live
from paramedic.agent.ownership import Member, Placement, divide, owner, shares

NAMES = [f"c{i:04d}" for i in range(3000)]
PLAIN = {n: Placement() for n in NAMES}
A, B, C, D = (Member(f"host1:/run/{x}", "host1") for x in "abcd")


def test_three_agents_share_the_components_evenly() -> None:
    counts = shares(divide(PLAIN, [A, B, C]))
    assert sorted(counts) == sorted([A.name, B.name, C.name])
    for count in counts.values():
        assert abs(count - 1000) < 100  # within 10 % of a third


def test_a_joining_agent_takes_only_its_share_from_the_others() -> None:
    before = divide(PLAIN, [A, B, C])
    after = divide(PLAIN, [A, B, C, D])
    moved = {n for n in NAMES if before[n] != after[n]}
    assert all(after[n] == D.name for n in moved)  # nothing moves between the old agents
    assert abs(len(moved) - 750) < 100  # about a quarter


def test_a_leaving_agent_moves_only_what_it_held() -> None:
    before = divide(PLAIN, [A, B, C])
    after = divide(PLAIN, [A, C])
    moved = {n for n in NAMES if before[n] != after[n]}
    assert moved == {n for n in NAMES if before[n] == B.name}
    assert None not in after.values()


def test_the_division_does_not_depend_on_the_order_of_the_members() -> None:
    assert divide(PLAIN, [A, B, C]) == divide(PLAIN, [C, A, B])


def test_tags_pin_components_to_the_agents_that_carry_them() -> None:
    db_a = Member("h2:/run/a", "h2", frozenset({"db"}))
    only_db = Placement(frozenset({"db"}))
    assert all(owner(n, only_db, [A, B, db_a]) == db_a.name for n in NAMES[:200])
    assert owner("x", only_db, [A, B]) is None  # nobody may own it
    on_h2 = Placement(frozenset({"host:h2"}))
    assert owner("x", on_h2, [A, B, db_a]) == db_a.name


def test_an_owned_process_stays_on_one_host() -> None:
    h2a, h2b = Member("h2:/a", "h2"), Member("h2:/b", "h2")
    members = [A, B, h2a, h2b]
    bound = Placement(host_bound=True)
    hosts = {n: owner(n, bound, members) for n in NAMES[:400]}
    by_host = {n: ("host1" if o in (A.name, B.name) else "h2") for n, o in hosts.items()}
    # one agent of a host leaving keeps every process on that host
    for name, agent in hosts.items():
        rest = [m for m in members if m.name != agent]
        survivor = owner(name, bound, rest)
        assert survivor is not None
        host = "host1" if survivor in (A.name, B.name) else "h2"
        assert host == by_host[name]


def test_a_live_agent_running_a_recovery_keeps_its_component() -> None:
    name = next(n for n in NAMES if owner(n, Placement(), [A, B, C]) == A.name)
    assert owner(name, Placement(), [A, B, C, D], recovering=B.name) == B.name
    # once B is gone, rendezvous decides again
    assert owner(name, Placement(), [A, C, D], recovering=B.name) == owner(
        name, Placement(), [A, C, D]
    )


def test_standing_lapses_one_heartbeat_before_the_lease_ends() -> None:
    standing = Standing(heartbeat_s=2, ttl_s=10)
    assert not standing.may_act(0.0)  # never renewed
    assert standing.lapsed(0.0) is None
    standing.renewed(100.0)
    assert standing.may_act(107.9)
    assert standing.lapsed(107.9) is None
    assert not standing.may_act(108.0)
    assert standing.lapsed(120.0) == 20.0  # woken after a long SIGSTOP
    standing.renewed(121.0)
    assert standing.may_act(121.5)


def test_a_lease_is_dead_from_its_ttl_on() -> None:
    assert is_live(9.99, 10)
    assert not is_live(10.0, 10)


def test_a_host_bound_component_stays_on_its_recorded_host_when_a_host_joins() -> None:
    """F2: a second host joining moves no host-bound component off the host that runs it."""
    h2 = Member("h2:/a", "h2")
    bound = Placement(host_bound=True)
    before = {n: owner(n, bound, [A, B]) for n in NAMES[:400]}
    assert set(before.values()) <= {A.name, B.name}
    after = divide(
        {n: bound for n in NAMES[:400]}, [A, B, h2], hosts=dict.fromkeys(before, "host1")
    )
    assert h2.name not in after.values()
    # without the recorded host, about half would move to h2 (what the old division did)
    unrecorded = divide({n: bound for n in NAMES[:400]}, [A, B, h2])
    assert 100 < sum(o == h2.name for o in unrecorded.values()) < 300


def test_a_host_bound_component_moves_to_another_host_only_when_its_host_has_no_live_agent() -> (
    None
):
    h2 = Member("h2:/a", "h2")
    bound = Placement(host_bound=True)
    assert owner("web", bound, [A, h2], host="host1") == A.name
    assert owner("web", bound, [h2], host="host1") == h2.name
    # a recorded host outside the eligible members does not keep it from them
    tagged = Placement(frozenset({"db"}), host_bound=True)
    db2 = Member("h2:/db", "h2", frozenset({"db"}))
    assert owner("web", tagged, [A, db2], host="host1") == db2.name


def test_every_local_provider_is_host_bound_and_no_aws_one_is() -> None:
    from paramedic.providers.registry import PROVIDERS

    bound = {name for name, info in PROVIDERS.items() if info.host_bound}
    assert bound == {"process", "postgres", "redis", "files", "haproxy"}


def test_a_workflow_is_orphaned_when_it_waits_on_a_run_that_is_gone() -> None:
    """F4: PENDING under a dead executor, or ENQUEUED on a dead run's own queue."""
    from paramedic.recovery.durable import QUEUE, is_orphaned, takeover_queue

    live = {"a@1", "b@1"}
    assert not is_orphaned(None, live)  # never started: nothing waits
    assert not is_orphaned(("PENDING", "a@1", None), live)
    assert is_orphaned(("PENDING", "c@1", None), live)
    assert is_orphaned(("PENDING", "c@1", takeover_queue("a@1")), live)  # its runner died
    assert not is_orphaned(("ENQUEUED", None, takeover_queue("b@1")), live)
    assert is_orphaned(("ENQUEUED", None, takeover_queue("c@1")), live)
    assert not is_orphaned(("ENQUEUED", None, QUEUE), live)  # every agent polls it
    assert not is_orphaned(("SUCCESS", "c@1", None), live)


def test_standing_is_measured_by_a_clock_that_counts_a_suspend() -> None:
    """F5: the real clock's since_boot is CLOCK_BOOTTIME (time.monotonic stops in a suspend)."""
    import time

    from paramedic.clock import FakeClock, RealClock

    assert abs(RealClock().since_boot() - time.clock_gettime(time.CLOCK_BOOTTIME)) < 1.0
    fake = FakeClock()
    before = fake.since_boot()
    fake.advance(5)
    assert fake.since_boot() == before + 5
