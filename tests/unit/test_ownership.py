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
