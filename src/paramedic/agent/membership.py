"""Membership: this agent's lease, the division of components, takeovers and standing down.

Every ``agent.heartbeat`` one task renews this agent's lease row (stamped with
the database's clock) and nothing else, so no dividing or takeover work can
delay a renewal; a second loop reads every lease, divides the components over
the live agents (``ownership.divide``) and hands the core what this agent
gained and lost (the core takes charge of the gained ones in a task of its
own). For each component it owns whose open incident was being recovered by
an agent whose lease is dead, or by nobody while its workflow waits on a dead
run, it takes the incident over (compare and set in the store) and resumes its
workflow.

Fail-stop, after Patroni's watchdog: when this agent sees that its last
successful renewal is older than ``ttl − heartbeat`` (the store was out of
reach, or the process was SIGSTOPped), it stands down: one decision line, then
the process re-executes itself, so nothing of the old run acts again and it
rejoins as a fresh run of the same name (owned processes keep running and are
adopted, as after a crash). With ``--no-restart-on-fence`` it exits 75 instead.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, NoReturn

from paramedic.agent.lease import Standing, is_live
from paramedic.agent.ownership import HOST_TAG, Member, Placement, divide, placements
from paramedic.agent.parts import AgentParts, Loop
from paramedic.errors import ParamedicError, StoreError
from paramedic.providers.local import helpers

if TYPE_CHECKING:
    from paramedic.catalog.model import Catalog
    from paramedic.store import IncidentRow, LeaseRow

log = logging.getLogger("paramedic.agent")

JOIN_SETTLE = 1.25
"""The first division waits this many heartbeats after the first renewal (see ``join``)."""

FENCED_EXIT = 75
"""Exit code of an agent that stood down with ``--no-restart-on-fence`` (EX_TEMPFAIL)."""


@dataclass(frozen=True)
class Identity:
    """Who this agent is: a stable name (``host:run dir``) and this run of it."""

    name: str
    host: str
    pid: int
    run_start: datetime
    tags: frozenset[str] = field(default_factory=frozenset)

    @property
    def executor_id(self) -> str:
        """The DBOS executor id of this run: unique per run, so DBOS never auto-resumes a dead
        run's workflows by itself (the new owner of each component does)."""
        return f"{self.name}@{self.run_start.isoformat()}"

    def member(self) -> Member:
        """This agent as the division sees it."""
        return Member(self.name, self.host, self.tags)


def identity_for(run_dir: str, run_start: datetime, tags: list[str], name: str | None) -> Identity:
    """This process's identity: ``name`` or ``HOST:RUN_DIR``, the host, pid and run start."""
    host = socket.gethostname()
    return Identity(name or f"{host}:{run_dir}", host, os.getpid(), run_start, frozenset(tags))


def member_of(lease: LeaseRow) -> Member:
    """A lease row as the division sees it."""
    tags = frozenset(t for t in lease.tags if not t.startswith(HOST_TAG))
    return Member(lease.name, lease.host, tags)


Redivide = Callable[[set[str], set[str]], Awaitable[None]]
"""The core's answer to a new division: (gained, lost) component names."""
Resume = Callable[["IncidentRow"], Awaitable[None]]
"""Resume an incident this agent just took over."""


class Membership(Loop):
    """Renews the lease, divides the components, takes over dead agents' recoveries."""

    name = "membership"

    def __init__(
        self,
        parts: AgentParts,
        me: Identity,
        *,
        redivide: Redivide,
        resume: Resume,
        restart_on_fence: bool = True,
    ) -> None:
        super().__init__()
        self.parts = parts
        self.me = me
        self._redivide = redivide
        self._resume = resume
        self.restart_on_fence = restart_on_fence
        agent = parts.catalog.agent
        self.standing = Standing(agent.heartbeat.total_seconds(), agent.lease_ttl.total_seconds())
        self.members: list[Member] = []
        self.division: dict[str, str | None] = {}
        self.live_executors: set[str] = set()
        """The DBOS executor ids of the live agents' runs (this one included)."""
        self.hosts: dict[str, str] = {}
        """Component → the host recorded as running it (host-bound components)."""
        self.owned: set[str] = set()
        self.shared = True
        """False on SQLite: one agent, nobody to take over, so no fencing."""
        self._renewing: asyncio.Task[None] | None = None
        self._placed: tuple[Catalog, dict[str, Placement]] | None = None
        self._divided: tuple[Catalog, tuple[object, ...], dict[str, str | None]] | None = None
        # orig_argv keeps ``-m paramedic.cli``; sys.argv would name the module's file instead.
        self.exec_argv: list[str] = [sys.executable, *sys.orig_argv[1:]]

    @property
    def agent(self) -> str:
        """This agent's name (the fence of its recovery steps)."""
        return self.me.name

    @property
    def ttl_s(self) -> float:
        """The lease's time to live, in seconds."""
        return self.standing.ttl_s

    # ------------------------------------------------------------ joining

    async def join(self) -> set[str]:
        """First renewal and division at start; returns the components this agent owns.

        On SQLite another live agent of a different name is refused (one agent per file).
        On PostgreSQL the first division waits ``JOIN_SETTLE`` heartbeats after the first
        renewal: every agent started at about the same time has renewed by then, so agents
        started together (a cold start of all of them) divide among each other at once instead
        of each taking everything and starting every service it would soon hand over.
        """
        store = self.parts.store
        self.shared = store.dialect == "postgresql"
        if not self.shared:
            self._refuse_second_sqlite_agent(await asyncio.to_thread(store.leases))
        await self.renew()
        # From here the lease is renewed (and, shared, the gap watched) through the agent's
        # whole start: a start frozen past its lease stands down instead of acting on a
        # division the other agents have already moved past. On SQLite the live lease is what
        # refuses a second agent.
        self._renewing = asyncio.create_task(self._keep_renewing(), name="lease")
        if self.shared:
            await self.parts.clock.sleep(self.standing.heartbeat_s * JOIN_SETTLE)
            self.check_standing()
        await self._read_and_divide()
        return set(self.owned)

    def _refuse_second_sqlite_agent(self, leases: list[LeaseRow]) -> None:
        for lease in leases:
            if lease.name != self.me.name and is_live(lease.age_s, self.ttl_s):
                raise StoreError(
                    f"state store {self.parts.store.url} is already used by agent {lease.name}; "
                    "several agents need state: postgresql://…"
                )

    # ------------------------------------------------------------ the loop

    async def run(self) -> None:
        """Every heartbeat: divide and take over (the lease is renewed by its own task, started
        at ``join``)."""
        while True:
            await self.parts.clock.sleep(self.standing.heartbeat_s)
            try:
                await self.tick()
            except ParamedicError as exc:
                self.parts.say("-", "division_not_read", str(exc))

    async def stop_renewing(self) -> None:
        """Stop the renewal task (at shutdown, before the lease is released)."""
        renewing, self._renewing = self._renewing, None
        if renewing is not None:
            renewing.cancel()
            await asyncio.gather(renewing, return_exceptions=True)

    async def _keep_renewing(self) -> None:
        """Every heartbeat: check the gap, then renew; nothing else waits in this task."""
        while True:
            await self.parts.clock.sleep(self.standing.heartbeat_s)
            self.check_standing()
            try:
                await self.renew()
            except ParamedicError as exc:  # the store is out of reach: the gap check decides
                self.parts.say("-", "lease_not_renewed", str(exc))

    async def tick(self) -> None:
        """One division: read the leases, divide, take over dead agents' recoveries.

        Alone on SQLite (a second agent is refused) the division changes only with the
        catalog: nothing is read until a reload brings a new one.
        """
        divided = self._divided
        if not self.shared and divided is not None and divided[0] is self.parts.catalog:
            return
        await self._read_and_divide()
        if self.shared:  # alone (SQLite), every open incident is this agent's own
            await self._take_over_dead_recoveries()

    def may_act(self) -> bool:
        """May this agent act now: its last renewal is younger than ``ttl − heartbeat``."""
        if not self.shared:
            return True
        return self.standing.may_act(self.parts.clock.since_boot())

    def owner_of(self, component: str) -> str | None:
        """The agent owning ``component`` in the current division (None: no live agent may)."""
        if not self.shared:
            return self.me.name
        return self.division.get(component)

    def owns(self, component: str) -> bool:
        """Does this agent own ``component`` in the current division?"""
        return component in self.owned

    def check_standing(self) -> None:
        """Stand down when the last renewal is past ``ttl − heartbeat`` (after a stall)."""
        if not self.shared:
            return
        gap = self.standing.lapsed(self.parts.clock.since_boot())
        if gap is not None:
            self.stand_down(f"no lease renewal for {gap:.1f}s (its lease lasts {self.ttl_s:g}s)")

    async def renew(self) -> None:
        """Renew this agent's lease now."""
        sent = self.parts.clock.since_boot()
        me = self.me
        await asyncio.to_thread(
            self.parts.store.renew_lease,
            me.name,
            host=me.host,
            pid=me.pid,
            run_start=me.run_start,
            executor_id=me.executor_id,
            tags=sorted(me.tags | {f"{HOST_TAG}{me.host}"}),
            catalog=str(self.parts.catalog.source),
        )
        # Measured from when the renewal was sent: the database may have stamped it then.
        self.standing.renewed(sent)

    async def _read_and_divide(self) -> None:
        store = self.parts.store
        leases = await asyncio.to_thread(store.leases)
        recovering = await asyncio.to_thread(store.recovering_agents)
        self.hosts = await asyncio.to_thread(store.component_hosts)
        live = [x for x in leases if is_live(x.age_s, self.ttl_s)]
        members = [member_of(x) for x in live]
        if self.me.name not in {m.name for m in members}:
            members.append(self.me.member())
        self.members = members
        self.live_executors = {x.executor_id for x in live} | {self.me.executor_id}
        self.division = self._division(members, recovering, self.hosts)
        owned = {n for n, agent in self.division.items() if agent == self.me.name}
        gained, lost = owned - self.owned, self.owned - owned
        self.owned = owned
        if gained or lost:
            await self._redivide(gained, lost)

    def _division(
        self, members: list[Member], recovering: dict[str, str], hosts: dict[str, str]
    ) -> dict[str, str | None]:
        """The division for these inputs, computed again only when one of them changed.

        Dividing 10,000 components costs ~50 ms of the event loop (more under load); most
        heartbeats see the same leases, recoveries and hosts as the last one and reuse it.
        """
        catalog = self.parts.catalog
        key = (
            tuple(sorted(members, key=lambda m: m.name)),
            tuple(sorted(recovering.items())),
            tuple(sorted(hosts.items())),
        )
        if self._divided is not None and self._divided[0] is catalog and self._divided[1] == key:
            return self._divided[2]
        if self._placed is None or self._placed[0] is not catalog:
            self._placed = (catalog, placements(catalog))  # a reload brings a new catalog
        division = divide(self._placed[1], members, recovering, hosts)
        self._divided = (catalog, key, division)
        return division

    async def _take_over_dead_recoveries(self) -> None:
        """Open incidents of components this agent owns and watches, run by a dead agent (or by
        nobody while their workflow waits on a dead run): take them over."""
        store = self.parts.store
        incidents = await asyncio.to_thread(store.incidents, open_only=True, limit=100_000)
        for incident in incidents:
            if incident.component in self.owned and incident.component in self.parts.watches:
                await self._take_over_if_orphaned(incident, gained=False)

    async def take_over_open_incident(self, component: str) -> None:
        """A component this agent just took charge of: take over its open incident unless a live
        agent runs it (before its checks are scheduled, so no check rewrites it)."""
        if not self.shared:
            return  # alone (SQLite): nobody else ran it; the agent resumes its own at start
        incident = await asyncio.to_thread(self.parts.store.open_incident_of, component)
        if incident is not None:
            await self._take_over_if_orphaned(incident, gained=True)

    async def _take_over_if_orphaned(self, incident: IncidentRow, *, gained: bool) -> None:
        if incident.agent == self.me.name or incident.agent in {m.name for m in self.members}:
            return  # this run's own, or a live agent's
        if incident.agent is None:
            # Nobody recorded: orphaned when its workflow waits on a dead run; a blocked one of
            # a component just gained goes to this agent's detector.
            from paramedic.recovery import durable

            blocked = incident.state == "blocked"  # no workflow runs for it
            if blocked and not gained:
                return
            state = None if blocked else await durable.run_state(incident.id)
            if not blocked and not durable.is_orphaned(state, self.live_executors):
                return
            why = "its workflow waits on a run that is gone"
        else:
            why = f"agent {incident.agent} is gone (lease older than {self.ttl_s:g}s)"
        store = self.parts.store
        if not await asyncio.to_thread(store.take_over, incident.id, self.me.name, self.ttl_s):
            return
        if incident.state != "blocked":
            self.parts.say(incident.component, "took_over", f"{why}; resuming {incident.id}")
        await self._resume(incident)

    def leave(self) -> None:
        """A clean stop: drop this run's lease so the other agents take its share at once.

        Called last at shutdown, after DBOS has stopped (which also closes the loop's default
        executor, so this one small write runs here, not in a thread).
        """
        try:
            self.parts.store.release_lease(self.me.name, self.me.executor_id)
        except ParamedicError as exc:
            log.warning("releasing the lease: %s", exc)

    # ------------------------------------------------------------ standing down

    def stand_down(self, why: str) -> NoReturn:
        """Stop acting at once: one decision line, then re-execute (or exit 75)."""
        # an agent asked to stop (SIGTERM) that loses its lease while stopping just exits
        restart = self.restart_on_fence and not self.parts.stopping.is_set()
        then = "restarting to rejoin" if restart else f"exiting {FENCED_EXIT}"
        # a restore or command of a step another agent may be redoing now dies with this run
        killed = helpers.kill_all()
        ended = f"; killed {killed} helper process(es) it was running" if killed else ""
        self.parts.say(
            "-",
            "stood_down",
            f"agent {self.me.name} lost its lease ({why}); standing down: no further action, "
            f"{then}{ended}",
        )
        for handler in logging.getLogger().handlers:
            handler.flush()
        sys.stdout.flush()
        sys.stderr.flush()
        if restart:
            os.execv(self.exec_argv[0], self.exec_argv)
        os._exit(FENCED_EXIT)
