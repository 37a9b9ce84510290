"""One boto3 session per AWS settings, clients with standard retries, and AWS errors as paramedic's own.

Every AWS module reaches AWS through here:

- ``client(settings, "ec2")``: a cached, thread-safe boto3 client for the
  catalog's region/profile/endpoint_url, with botocore's ``standard`` retry
  mode and bounded connect/read timeouts.
- ``await call(client, "DescribeInstances", "i-0abc", InstanceIds=[...])``:
  the API call in a worker thread; a ``ClientError`` (or an unreachable
  endpoint, missing credentials or region) becomes one ``AwsError`` line
  naming the service, the API and the resource.
- ``await collect(client, "DescribeDBSnapshots", "DBSnapshots", "orders", ...)``: every
  page of a list call.
- ``await wait_for(probe, within=..., interval=..., what=...)``: poll until
  ``probe`` returns something other than None (boto3's waiters have fixed
  delays of 15-30 s, too coarse for an RTO in minutes).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from paramedic.catalog.aws import AwsSettings
from paramedic.errors import ProviderError

T = TypeVar("T")

_lock = threading.Lock()
_sessions: dict[tuple[str | None, str | None], Any] = {}
_clients: dict[tuple[str, str | None, str | None, str | None], Any] = {}


class AwsError(ProviderError):
    """An AWS API call failed; ``code`` is AWS's error code (``DBInstanceNotFound``) when it gave one."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


def session(settings: AwsSettings) -> Any:
    """The boto3 session for ``settings``' profile and region (one per pair, reused)."""
    import boto3
    import botocore.exceptions

    key = (settings.profile, settings.region)
    with _lock:
        found = _sessions.get(key)
        if found is None:
            try:
                found = boto3.session.Session(
                    profile_name=settings.profile, region_name=settings.region
                )
            except botocore.exceptions.ProfileNotFound as exc:
                raise AwsError(
                    f"AWS profile {settings.profile!r} is not in ~/.aws/config; "
                    "fix aws.profile or leave it out to use the default credentials"
                ) from exc
            _sessions[key] = found
        return found


def client(settings: AwsSettings, service: str) -> Any:
    """A boto3 client of ``service`` for ``settings`` (cached; boto3 clients are thread-safe)."""
    from botocore.config import Config

    key = (service, settings.profile, settings.region, settings.endpoint_url)
    with _lock:
        found = _clients.get(key)
    if found is not None:
        return found
    made = session(settings)
    config = Config(
        retries={"mode": "standard", "max_attempts": 5},
        connect_timeout=5,
        read_timeout=30,
    )
    try:
        created = made.client(service, endpoint_url=settings.endpoint_url, config=config)
    except Exception as exc:  # botocore.exceptions.NoRegionError and friends
        raise AwsError(_reason(service, "client", "", exc)) from exc
    with _lock:
        return _clients.setdefault(key, created)


def forget_clients() -> None:
    """Drop cached sessions and clients (tests that restart the endpoint; credential rotation)."""
    with _lock:
        _sessions.clear()
        _clients.clear()


async def call(aws_client: Any, operation: str, resource: str = "", **kwargs: Any) -> Any:
    """Call ``operation`` (AWS's name, ``DescribeInstances``) in a thread; errors become ``AwsError``."""
    return await asyncio.to_thread(call_sync, aws_client, operation, resource, **kwargs)


async def collect(
    aws_client: Any, operation: str, key: str, resource: str = "", **kwargs: Any
) -> list[Any]:
    """Every item under ``key`` of every page of ``operation`` (botocore's paginator), in a thread.

    For the list calls whose first page (often 100 items) is not the whole answer: snapshots,
    clusters, instances of a large account. Errors become ``AwsError`` as with ``call``.
    """

    def pages() -> list[Any]:
        service = aws_client.meta.service_model.service_name
        try:
            paginator = aws_client.get_paginator(_snake(operation))
            return [item for page in paginator.paginate(**kwargs) for item in page.get(key, [])]
        except Exception as exc:
            raise AwsError(_reason(service, operation, resource, exc), _code(exc)) from exc

    return await asyncio.to_thread(pages)


def call_sync(aws_client: Any, operation: str, resource: str = "", **kwargs: Any) -> Any:
    """``call`` for code already in a worker thread (the store, the CLI's synchronous paths)."""
    method = getattr(aws_client, _snake(operation))
    service = aws_client.meta.service_model.service_name
    try:
        return method(**kwargs)
    except Exception as exc:
        raise AwsError(_reason(service, operation, resource, exc), _code(exc)) from exc


async def wait_for(
    probe: Callable[[], Awaitable[T | None]],
    *,
    within: timedelta | float,
    interval: timedelta | float,
    what: str,
) -> T:
    """Await ``probe`` every ``interval`` until it returns a value; ``AwsError`` after ``within``."""
    limit = within.total_seconds() if isinstance(within, timedelta) else within
    pause = interval.total_seconds() if isinstance(interval, timedelta) else interval
    deadline = time.monotonic() + limit
    while True:
        found = await probe()
        if found is not None:
            return found
        if time.monotonic() + pause > deadline:
            raise AwsError(f"timed out after {limit:g}s waiting for {what}")
        await asyncio.sleep(pause)


def error_code(exc: BaseException) -> str | None:
    """AWS's error code behind ``exc`` (an AwsError or a botocore ClientError), else None."""
    if isinstance(exc, AwsError):
        return exc.code
    return _code(exc)


def _code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code else None
    return None


def _reason(service: str, operation: str, resource: str, exc: BaseException) -> str:
    import botocore.exceptions as bce

    where = f"{service} {operation}" + (f" {resource}" if resource else "")
    if isinstance(exc, bce.ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code", "Error")
        message = " ".join(str(error.get("Message", "")).split())
        return f"{where}: {code}: {message}" if message else f"{where}: {code}"
    if isinstance(exc, bce.NoCredentialsError):
        return (
            f"{where}: no AWS credentials; set AWS_PROFILE or aws.profile, "
            "or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    if isinstance(exc, bce.NoRegionError):
        return f"{where}: no AWS region; set aws.region in the catalog or AWS_REGION"
    if isinstance(exc, bce.EndpointConnectionError | bce.ConnectTimeoutError):
        return f"{where}: cannot reach the AWS endpoint ({exc}); check aws.endpoint_url and the network"
    if isinstance(exc, bce.ParamValidationError):
        return f"{where}: invalid request: {' '.join(str(exc).split())}"
    return f"{where}: {type(exc).__name__}: {' '.join(str(exc).split())}"


def _snake(operation: str) -> str:
    """``DescribeInstanceStatus`` -> ``describe_instance_status`` (botocore's own conversion)."""
    from botocore import xform_name

    return str(xform_name(operation))
