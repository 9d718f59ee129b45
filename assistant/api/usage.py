"""GET /api/v1/usage: tokens, answers, tool calls and time to first token, by day or by model,
from the stored conversations and the /v1 answers (editors are users too; those are kept in
memory since the server started)."""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import UTC, datetime
from typing import Annotated, Literal

from litestar import get
from litestar.params import QueryParameter
from msgspec import Struct

from assistant.conversations import UsageRow
from assistant.errors import AssistantError

from .envelope import Envelope, Req, Svc, ok

DEFAULT_DAYS = 30
SLOWEST = 10


class Group(Struct):
    """One day's (``day``, per model) or one model's figures."""

    key: str
    model: str | None
    answers: int
    tokens_in: int
    tokens_out: int
    tool_calls: int
    first_token_ms_p50: int | None
    first_token_ms_p95: int | None


class Slow(Struct):
    at: str
    model: str | None
    total_ms: int
    first_token_ms: int | None
    source: Literal["conversation", "v1"]
    conversation_id: str | None
    message_id: str | None


class Usage(Struct):
    since: str
    until: str
    group: Literal["day", "model"]
    groups: list[Group]
    totals: Group
    slowest: list[Slow]
    v1_since: str  # /v1 answers are counted from when the server started


def _when(text: str | None, default: float, param: str) -> float:
    if text is None:
        return default
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise AssistantError(
            "invalid_parameter", f"`{param}` must be an ISO date or date-time (2026-01-31)", param=param
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _percentile(values: list[int], share: float) -> int | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _group(key: str, model: str | None, rows: list[UsageRow]) -> Group:
    firsts = [r.first_token_ms for r in rows if r.first_token_ms is not None]
    return Group(
        key=key,
        model=model,
        answers=len(rows),
        tokens_in=sum(r.tokens_in for r in rows),
        tokens_out=sum(r.tokens_out for r in rows),
        tool_calls=sum(r.tool_calls for r in rows),
        first_token_ms_p50=_percentile(firsts, 0.5),
        first_token_ms_p95=_percentile(firsts, 0.95),
    )


@get("/usage", summary="Tokens, answers, tool calls and time to first token, by day or by model")
async def get_usage(
    request: Req,
    svc: Svc,
    since: Annotated[str | None, QueryParameter(description=f"ISO date (default: {DEFAULT_DAYS} days ago)")] = None,
    until: Annotated[str | None, QueryParameter(description="ISO date (default: now)")] = None,
    group: Annotated[Literal["day", "model"], QueryParameter(description="day (per model) or model")] = "day",
) -> Envelope[Usage]:
    now = time.time()
    end = _when(until, now, "until")
    start = _when(since, end - DEFAULT_DAYS * 86_400, "since")
    if start >= end:
        raise AssistantError("invalid_parameter", "`since` must be before `until`", param="since")
    stored = svc.conversations
    rows: list[UsageRow] = []
    if stored is not None and stored.store is not None:
        rows = await stored.run(lambda s: s.usage_rows(start, end))
    answered = [r for r in rows if r.model is not None]  # an answer from search used no model
    v1 = [
        UsageRow(
            at=r.at,
            model=r.model,
            tokens_in=r.tokens_in,
            tokens_out=r.tokens_out,
            tool_calls=r.tool_calls,
            first_token_ms=r.first_token_ms,
            total_ms=r.total_ms,
            conversation_id="",
            message_id="",
        )
        for r in list(svc.v1_usage)
        if start <= r.at < end
    ]
    everything = answered + v1
    buckets: dict[tuple[str, str | None], list[UsageRow]] = defaultdict(list)
    for row in everything:
        key = _iso(row.at)[:10] if group == "day" else (row.model or "")
        buckets[(key, row.model)].append(row)
    groups = [
        _group(key, model, items)
        for (key, model), items in sorted(buckets.items(), key=lambda i: (i[0][0], i[0][1] or ""))
    ]
    slow_rows = sorted((r for r in everything if r.total_ms is not None), key=lambda r: -(r.total_ms or 0))[:SLOWEST]
    slowest = [
        Slow(
            at=_iso(r.at),
            model=r.model,
            total_ms=r.total_ms or 0,
            first_token_ms=r.first_token_ms,
            source="conversation" if r.conversation_id else "v1",
            conversation_id=r.conversation_id or None,
            message_id=r.message_id or None,
        )
        for r in slow_rows
    ]
    usage = Usage(
        since=_iso(start),
        until=_iso(end),
        group=group,
        groups=groups,
        totals=_group("total", None, everything),
        slowest=slowest,
        v1_since=_iso(svc.started),
    )
    return ok(request, usage)
