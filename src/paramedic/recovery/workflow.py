"""The durable recovery workflow: one incident, its ladder of strategies, then recovered or escalated.

The workflow function is deterministic; every effect is a DBOS step that calls
the installed ``RecoveryEngine``. The workflow id is the incident id.
"""

from __future__ import annotations

from typing import Any

from dbos import DBOS

from paramedic.errors import ParamedicError
from paramedic.recovery.durable import APPROVAL_TOPIC, WORKFLOW_NAME
from paramedic.recovery.engine import RecoveryEngine

_engine: RecoveryEngine | None = None


def install(engine: RecoveryEngine | None) -> None:
    """Make ``engine`` the one this process's workflows act through (before launching DBOS)."""
    global _engine
    _engine = engine


def engine() -> RecoveryEngine:
    """The installed engine; a workflow cannot run without one."""
    if _engine is None:
        raise ParamedicError("no recovery engine is installed in this process")
    return _engine


@DBOS.step(name="begin")
async def _begin(incident_id: str, only: str | None, force: bool) -> dict[str, Any]:
    return await engine().begin(incident_id, only, force)


@DBOS.step(name="ask_approval")
async def _ask(incident_id: str, step: dict[str, Any]) -> None:
    await engine().ask_approval(incident_id, step)


@DBOS.step(name="answer_approval")
async def _answer(incident_id: str, step: dict[str, Any], answer: Any) -> str:
    return await engine().answer_approval(incident_id, step, answer)


@DBOS.step(name="attempt")
async def _attempt(incident_id: str, step: dict[str, Any], target: str | None) -> dict[str, Any]:
    return await engine().attempt(incident_id, step, target=target)


@DBOS.step(name="close")
async def _close(incident_id: str, outcome: dict[str, Any]) -> dict[str, Any]:
    return await engine().close(incident_id, outcome)


@DBOS.step(name="escalate")
async def _escalate(incident_id: str, reason: str) -> dict[str, Any]:
    return await engine().escalate(incident_id, reason)


@DBOS.workflow(name=WORKFLOW_NAME)
async def recovery_workflow(
    incident_id: str, only: str | None = None, target: str | None = None, force: bool = False
) -> dict[str, Any]:
    """Run the incident's strategies in order until one is verified; else escalate.

    ``force`` (``recover --force``) bypasses an open circuit. A bug in a step must not
    leave the incident recovering forever: it is escalated.
    """
    try:
        return await _ladder(incident_id, only, target, force)
    except Exception as exc:
        return await _escalate(
            incident_id, f"the recovery itself failed ({type(exc).__name__}: {exc})"
        )


async def _ladder(
    incident_id: str, only: str | None, target: str | None, force: bool
) -> dict[str, Any]:
    plan = await _begin(incident_id, only, force)
    if "done" in plan:
        return {"incident": incident_id, "state": plan["done"]}
    if "elsewhere" in plan:  # a live agent runs it: this run touches nothing
        return {"incident": incident_id, "state": "elsewhere", "reason": plan["elsewhere"]}
    if "refused" in plan:
        return await _escalate(incident_id, plan["refused"])
    failures: list[str] = []
    for step in plan["steps"]:
        if step["backoff_s"]:
            await DBOS.sleep_async(step["backoff_s"])
        if step["approval"]:
            await _ask(incident_id, step)
            answer = await DBOS.recv_async(
                APPROVAL_TOPIC, timeout_seconds=step["approval_timeout_s"]
            )
            verdict = await _answer(incident_id, step, answer)
            if verdict == "timed_out":
                return await _escalate(
                    incident_id, f"{step['strategy']} waited for approval and nobody answered"
                )
            if verdict == "denied":
                failures.append(f"{step['strategy']}: denied")
                continue
        outcome = await _attempt(incident_id, step, target)
        if outcome["ok"]:
            return await _close(incident_id, outcome)
        failures.append(f"{step['strategy']}: {outcome['status']}")
    return await _escalate(
        incident_id, f"every strategy failed ({'; '.join(failures)}); a human is needed"
    )
