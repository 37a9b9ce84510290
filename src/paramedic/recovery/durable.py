"""DBOS Transact, set up for paramedic: one system database beside the state store.

Why DBOS: a recovery must survive the agent's own crash and must never run
twice. DBOS checkpoints every step of a workflow in a database (SQLite or
PostgreSQL, the same two the state store supports); a workflow's id is the
incident id, so starting it again returns the one already running, and an
agent restarted after a crash resumes it at the step that had not finished.
Approvals are DBOS messages (``send``/``recv``), so waiting for a human is
durable too, and the command line reaches a running agent through a DBOS
queue without any socket of our own.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from pathlib import Path
from typing import Any

from paramedic.errors import StoreError

QUEUE = "paramedic-recoveries"
APPROVAL_TOPIC = "approval"
WORKFLOW_NAME = "paramedic.recovery"

_launched = False


def system_database_url(state_url: str) -> str:
    """The DBOS system database for a state URL: a sibling SQLite file, or the same PostgreSQL database."""
    if state_url.startswith("sqlite:///"):
        path = state_url[len("sqlite:///") :]
        if not path or path == ":memory:":
            raise StoreError(
                "durable recoveries need a file-backed state store, not sqlite in memory"
            )
        return "sqlite:///" + str(Path(path).with_name(Path(path).name + ".dbos"))
    if state_url.startswith("postgres://"):
        return "postgresql://" + state_url[len("postgres://") :]
    return state_url.replace("postgresql+psycopg://", "postgresql://", 1)


class ResumedByRecovery(logging.Filter):
    """Drops DBOS's warning that a recovery it re-enqueued at launch was started again.

    After a crash, DBOS's startup recovery puts each unfinished workflow on its internal queue;
    the agent then starts the open incident's workflow itself (same id, no queue), and DBOS
    keeps the one already queued and runs it once, as intended, but warns "Workflow already
    exists in queue: _dbos_internal_queue, but the provided queue name is: None" on every
    restart. Only that exact case is dropped: any other queue mismatch still warns.
    """

    NOISE = "Workflow already exists in queue: _dbos_internal_queue, but the provided queue name is: None."

    def filter(self, record: logging.LogRecord) -> bool:
        """False for the one warning described above."""
        return not record.getMessage().startswith(self.NOISE)


TAKEOVER_PREFIX = "paramedic-takeover-"


def takeover_queue(executor_id: str) -> str:
    """The DBOS queue only this run listens to: recoveries it takes over, and manual ones for
    the components it owns, are put there."""
    digest = hashlib.blake2b(executor_id.encode(), digest_size=6).hexdigest()
    return f"{TAKEOVER_PREFIX}{digest}"


async def launch(state_url: str, executor_id: str = "local") -> None:
    """Start DBOS in this process (call from inside the running event loop) and recover pending recoveries.

    Several agents share one system database: each has its own ``executor_id`` and
    listens to the shared recovery queue and its own takeover queue only (DBOS would
    otherwise dequeue from every queue any agent registered).
    """
    global _launched
    from dbos import DBOS

    from paramedic.recovery import workflow  # noqa: F401  registers the workflow

    if _launched:
        return
    dbos_log = logging.getLogger("dbos")
    dbos_log.setLevel(logging.WARNING)
    if not any(isinstance(f, ResumedByRecovery) for f in dbos_log.filters):
        dbos_log.addFilter(ResumedByRecovery())
    config: dict[str, Any] = {
        "name": "paramedic",
        "system_database_url": system_database_url(state_url),
        "log_level": "WARNING",
        "executor_id": executor_id,
        "notification_listener_polling_interval_sec": 0.2,
    }
    try:
        DBOS(config=config)  # type: ignore[arg-type]
        mine = takeover_queue(executor_id)
        DBOS.listen_queues([QUEUE, mine])
        DBOS.launch()
        await DBOS.register_queue_async(QUEUE, polling_interval_sec=0.2)
        await DBOS.register_queue_async(mine, polling_interval_sec=0.2)
    except Exception as exc:
        _safe_destroy()
        raise StoreError(
            f"cannot start the durable workflow engine on {_redacted(state_url)}: {exc}"
        ) from exc
    _launched = True


async def run_state(incident_id: str) -> tuple[str, str | None, str | None] | None:
    """(status, executor id, queue name) of ``incident_id``'s workflow; None when never started."""
    from dbos import DBOS

    status = await DBOS.get_workflow_status_async(incident_id)
    if status is None:
        return None
    return str(status.status), status.executor_id, status.queue_name


def is_orphaned(state: tuple[str, str | None, str | None] | None, live: set[str]) -> bool:
    """True when a workflow waits on nobody alive: PENDING under an executor not in ``live``, or
    ENQUEUED on the takeover queue of a run not in ``live`` (nobody listens to that queue)."""
    if state is None:
        return False
    status, executor, queue = state
    if status == "PENDING":
        return executor not in live
    if status == "ENQUEUED" and queue is not None and queue.startswith(TAKEOVER_PREFIX):
        return queue not in {takeover_queue(e) for e in live}
    return False


async def resume(incident_id: str, executor_id: str) -> str:
    """Run ``incident_id``'s workflow in this process, whoever started it; says what was done.

    A PENDING workflow of another (dead) executor, or one ENQUEUED on another run's takeover
    queue, is handed to this run's takeover queue: DBOS's dequeue admits one runner, which
    replays the recorded steps and runs the rest. A workflow never started is started here;
    one already running or queued here is left alone.
    """
    from dbos import DBOS, SetWorkflowID

    from paramedic.recovery import workflow

    status = await DBOS.get_workflow_status_async(incident_id)
    if status is None:
        with SetWorkflowID(incident_id):
            await DBOS.start_workflow_async(workflow.recovery_workflow, incident_id, None)
        return "started"
    mine = takeover_queue(executor_id)
    pending_elsewhere = status.status == "PENDING" and status.executor_id != executor_id
    queued_elsewhere = (
        status.status == "ENQUEUED"
        and status.queue_name is not None
        and status.queue_name.startswith(TAKEOVER_PREFIX)
        and status.queue_name != mine
    )
    if not (pending_elsewhere or queued_elsewhere):
        return f"left as it is ({status.status} on {status.executor_id})"
    moved = await asyncio.to_thread(
        _hand_over, incident_id, str(status.status), status.executor_id, status.queue_name, mine
    )
    return "resumed" if moved else "left as it is (taken already)"


def _hand_over(
    incident_id: str, status: str, executor: str | None, queue: str | None, mine: str
) -> bool:
    """Put one workflow on this run's takeover queue, if it is still as it was seen (one
    compare and set). DBOS's own ``reenqueue_for_recovery`` keeps a queue the workflow already
    had (a dead run's takeover queue, which nobody polls), so the queue is set here."""
    import sqlalchemy as sa
    from dbos._dbos import _get_dbos_instance

    sys_db = _get_dbos_instance()._sys_db
    ws = sys_db.tables.workflow_status
    seen = ws.c.executor_id == executor if status == "PENDING" else ws.c.queue_name == queue
    with sys_db.engine.begin() as conn:
        done = conn.execute(
            sa.update(ws)
            .where(*sys_db._wf(ws, incident_id), ws.c.status == status, seen)
            .values(
                status="ENQUEUED",
                owner_xid=None,
                started_at_epoch_ms=None,
                updated_at=sys_db._now_ms_sql(),
                queue_name=mine,
            )
        )
        return bool(done.rowcount)


def shutdown() -> None:
    """Stop DBOS in this process; pending workflows stay in the database for the next launch."""
    global _launched
    if _launched:
        _safe_destroy()
        _launched = False


def _safe_destroy() -> None:
    from dbos import DBOS

    try:
        DBOS.destroy(destroy_registry=False)
    except Exception as exc:  # destroying a half-built DBOS must not hide the first error
        logging.getLogger("paramedic").warning("stopping DBOS: %s", exc)


def _redacted(url: str) -> str:
    from paramedic.redact import redact

    return redact(url)


class DurableClient:
    """What another process (the CLI) may ask of a running agent's workflows."""

    def __init__(self, state_url: str) -> None:
        from dbos import DBOSClient

        try:
            self._client = DBOSClient(system_database_url=system_database_url(state_url))
        except Exception as exc:
            raise StoreError(
                f"cannot reach the workflow database of {_redacted(state_url)}: {exc}"
            ) from exc

    def send_approval(self, incident_id: str, approved: bool, actor: str) -> None:
        """Answer the approval an incident's workflow waits for."""
        self._client.send(incident_id, {"approved": approved, "actor": actor}, APPROVAL_TOPIC)

    def enqueue_recovery(
        self,
        incident_id: str,
        only: str | None,
        target: str | None = None,
        force: bool = False,
        *,
        queue: str = QUEUE,
    ) -> None:
        """Ask the running agent to run the recovery workflow for an incident already in the
        store; ``queue``: the owning agent's own (``agent/routing.manual_queue``)."""
        from dbos import EnqueueOptions

        options = EnqueueOptions(
            queue_name=queue, workflow_name=WORKFLOW_NAME, workflow_id=incident_id
        )
        self._client.enqueue(options, incident_id, only, target, force)

    def result(self, incident_id: str) -> Any:
        """Wait for the workflow's result."""
        return self._client.retrieve_workflow(incident_id).get_result()

    def status(self, incident_id: str) -> str | None:
        """The workflow's status (PENDING, SUCCESS, ERROR, ENQUEUED ...), None when unknown."""
        status = self._client.retrieve_workflow(incident_id).get_status()
        return None if status is None else str(status.status)

    def close(self) -> None:
        """Release the client's connections."""
        self._client.destroy()
