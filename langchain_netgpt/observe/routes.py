"""Where steps went and why: a routes report over stored traces (behind ``netgpt routes``).

:func:`build_routes_report` reads traces (from :func:`read_route_traces`: a ``TraceStore`` file, a
``postgresql://`` store or a JSONL trace file) and groups them per session or per time window.
For each group it counts steps by route, says why they went there (the policy's reason, the
overrides, the fallbacks) and breaks the threshold ``tau`` of the NetGPT rule into its **value**,
**latency** and **price** terms (plus what a budget controller added), and compares the latency
and dollars spent with what sending every step to the cloud would have cost.

The tau breakdown, for a :class:`~langchain_netgpt.routing.policy.NetGPTPolicy` with value ``V``,
latency price ``lambda_t``, cloud-dollar weight ``lambda_c``, cloud quality ``q_c`` and escalation
recall ``d`` (``d = 0``: the closed form ``tau = q_c - (lambda_t (L_c - L_e) + lambda_c p_c) / V``),
with ``C = q_c V - lambda_t L_c - lambda_c p_c`` and ``D = V - d C``:

* value: ``(1 - d) q_c V / D``
* latency: ``(lambda_t L_e - (1 - d) lambda_t L_c) / D``
* price: ``-(1 - d) lambda_c p_c / D``

so ``value + latency + price`` is the raw ``tau``; ``L_e``, ``L_c`` and ``p_c`` are the step's
expected edge/cloud latency and cloud price, from the trace. The policy's parameters are not in the
trace: pass the policy that routed (``NetGPTPolicy.load(path)``; default: the default policy).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from langchain_netgpt.routing.policy import NetGPTPolicy
from langchain_netgpt.tracing.trace import RouteTrace

__all__ = [
    "RouteGroup",
    "RoutesReport",
    "StepPoint",
    "TauTerms",
    "build_routes_report",
    "read_route_traces",
    "step_point",
    "tau_terms",
]

GroupBy = Literal["session", "window", "all"]


class TauTerms(BaseModel):
    """The NetGPT threshold of one step, split into its terms (see the module docstring)."""

    model_config = ConfigDict(frozen=True)

    value: float = Field(description="The cloud's quality as a share of a correct step's value.")
    latency: float = Field(description="The edge's latency advantage (negative: cloud slower).")
    price: float = Field(description="The cloud's price, in correct-step values (<= 0).")
    raw_tau: float = Field(description="value + latency + price (before clipping to [0, 1]).")
    shift: float = Field(description="What the budget controller added: recorded tau - clipped.")


def tau_terms(trace: RouteTrace, policy: NetGPTPolicy) -> TauTerms | None:
    """The value, latency and price terms of a NetGPT step's ``tau`` (``None``: not a NetGPT step).

    Steps decided by other policies, or whose cloud latency was infinite (the link was down),
    have no breakdown.
    """
    if trace.policy != policy.name or trace.expected_edge_s is None:
        return None
    cloud_s = trace.expected_cloud_s
    if cloud_s is None or not math.isfinite(cloud_s):
        return None
    v, lt, lc = policy.value_correct_usd, policy.latency_usd_per_s, policy.cloud_usd_weight
    q, d, price = policy.cloud_quality, policy.escalation_recall, trace.expected_cloud_price_usd
    cloud_utility = q * v - lt * cloud_s - lc * price
    denominator = v - d * cloud_utility
    if denominator <= 0:
        return None
    value = (1 - d) * q * v / denominator
    latency = (lt * trace.expected_edge_s - (1 - d) * lt * cloud_s) / denominator
    price_term = -(1 - d) * lc * price / denominator
    raw = value + latency + price_term
    clipped = min(1.0, max(0.0, raw))
    return TauTerms(
        value=value, latency=latency, price=price_term, raw_tau=raw, shift=trace.threshold - clipped
    )


class StepPoint(BaseModel):
    """One step, reduced to what the report and the timeline need (the messages are dropped)."""

    model_config = ConfigDict(frozen=True)

    created_at: float
    session_id: str | None
    rtt_ms: float
    bandwidth_up_mbps: float
    score: float
    tau: float
    decided: str
    target: str | None
    fallback: bool
    overridden_by: str | None
    why: str
    latency_s: float
    cloud_price_usd: float
    expected_cloud_s: float | None
    expected_cloud_price_usd: float
    terms: TauTerms | None


def _why(trace: RouteTrace) -> str:
    """A short, low-cardinality reason: the override, the fallback, or the policy's comparison."""
    if trace.final_target is None:
        return "no target answered"
    if trace.fallback:
        # The code where the trace has one; older traces only have the text, read to its colon.
        head = trace.fallback_code or (trace.fallback_reason or "fallback").split(":", 1)[0]
        head = head.strip("; ")
        return f"fallback to {trace.final_target}: {head}"
    if trace.overridden_by:
        return f"{trace.final_target}: forced by {trace.overridden_by}"
    if trace.policy == "netgpt":
        side = ">=" if trace.decided_target == "edge" else "<"
        return f"{trace.decided_target}: score {side} tau"
    return f"{trace.decided_target}: {trace.policy} policy"


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[index]


class RouteGroup(BaseModel):
    """What the steps of one session or time window did."""

    model_config = ConfigDict(frozen=True)

    key: str = Field(description="Session id, window start (ISO 8601, UTC), or 'all'.")
    steps: int
    by_route: dict[str, int] = Field(description="Steps per target that answered.")
    decided: dict[str, int] = Field(description="Steps per target the decision chose.")
    fallbacks: int
    overrides: dict[str, int] = Field(description="Decisions forced by budget, privacy, ...")
    why: dict[str, int] = Field(description="Steps per short reason (see the module docstring).")
    mean_score: float
    mean_tau: float
    tau_terms: TauTerms | None = Field(description="Mean tau terms over the NetGPT steps.")
    mean_rtt_ms: float
    latency_mean_s: float
    latency_p95_s: float
    all_cloud_latency_mean_s: float = Field(
        description="Mean latency had every step gone to the cloud (measured where it did, "
        "expected from the latency model where it did not)."
    )
    spent_usd: float
    all_cloud_usd: float = Field(description="Dollars had every step gone to the cloud.")

    @property
    def saved_usd(self) -> float:
        """Dollars saved against all-cloud."""
        return self.all_cloud_usd - self.spent_usd


class RoutesReport(BaseModel):
    """Routes per group and in total, with the timeline of every step."""

    model_config = ConfigDict(frozen=True)

    group_by: GroupBy
    window_s: float | None
    groups: list[RouteGroup]
    total: RouteGroup
    timeline: list[StepPoint]

    def _shown(self) -> list[RouteGroup]:
        """Every group and the total; a single group alone (it is the total)."""
        return [*self.groups, self.total] if len(self.groups) > 1 else self.groups[:1]

    def to_text(self) -> str:
        """The report as plain text (what ``netgpt routes`` prints without a terminal)."""
        lines = []
        for group in self._shown():
            lines += _group_lines(group)
        return "\n".join(lines)

    def to_rich(self) -> Any:
        """The report as a ``rich`` table (one column per group)."""
        from rich.table import Table

        shown = self._shown()
        table = Table(title=f"netgpt routes ({len(self.timeline)} steps, by {self.group_by})")
        table.add_column("", justify="left")
        for group in shown:
            table.add_column(group.key, justify="right")
        for label, cell in _ROWS:
            table.add_row(label, *(cell(group) for group in shown))
        return table


def _terms(group: RouteGroup) -> str:
    t = group.tau_terms
    if t is None:
        return "-"
    return (
        f"{t.value:+.2f} value {t.latency:+.2f} latency {t.price:+.2f} price {t.shift:+.2f} shift"
    )


_ROWS: list[tuple[str, Any]] = [
    ("steps", lambda g: str(g.steps)),
    ("answered by", lambda g: ", ".join(f"{k} {v}" for k, v in sorted(g.by_route.items()))),
    ("decided", lambda g: ", ".join(f"{k} {v}" for k, v in sorted(g.decided.items()))),
    ("fallbacks", lambda g: str(g.fallbacks)),
    ("overrides", lambda g: ", ".join(f"{k} {v}" for k, v in sorted(g.overrides.items())) or "-"),
    (
        "why",
        lambda g: "; ".join(f"{k} ({v})" for k, v in sorted(g.why.items(), key=lambda i: -i[1])),
    ),
    ("mean score / tau", lambda g: f"{g.mean_score:.2f} / {g.mean_tau:.2f}"),
    ("tau terms (mean)", _terms),
    ("mean RTT", lambda g: f"{g.mean_rtt_ms:.0f} ms"),
    ("latency mean / p95", lambda g: f"{g.latency_mean_s:.3f} / {g.latency_p95_s:.3f} s"),
    ("all-cloud latency", lambda g: f"{g.all_cloud_latency_mean_s:.3f} s"),
    ("spent / all-cloud", lambda g: f"${g.spent_usd:.6f} / ${g.all_cloud_usd:.6f}"),
]


def _group_lines(group: RouteGroup) -> list[str]:
    return [f"== {group.key} ==", *(f"  {label:<20} {cell(group)}" for label, cell in _ROWS)]


def _group(key: str, steps: list[StepPoint]) -> RouteGroup:
    def count(values: Iterable[str | None]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for value in values:
            if value is not None:
                counts[value] = counts.get(value, 0) + 1
        return counts

    terms = [p.terms for p in steps if p.terms is not None]
    n = len(steps)
    latencies = [p.latency_s for p in steps]
    all_cloud = [
        p.latency_s
        if p.target == "cloud"
        else (p.expected_cloud_s if p.expected_cloud_s is not None else math.inf)
        for p in steps
    ]
    finite = [s for s in all_cloud if math.isfinite(s)]
    mean_terms = None
    if terms:
        k = len(terms)
        mean_terms = TauTerms(
            value=sum(t.value for t in terms) / k,
            latency=sum(t.latency for t in terms) / k,
            price=sum(t.price for t in terms) / k,
            raw_tau=sum(t.raw_tau for t in terms) / k,
            shift=sum(t.shift for t in terms) / k,
        )
    return RouteGroup(
        key=key,
        steps=n,
        by_route=count(p.target or "none" for p in steps),
        decided=count(p.decided for p in steps),
        fallbacks=sum(p.fallback for p in steps),
        overrides=count(p.overridden_by for p in steps),
        why=count(p.why for p in steps),
        mean_score=sum(p.score for p in steps) / n if n else 0.0,
        mean_tau=sum(p.tau for p in steps) / n if n else 0.0,
        tau_terms=mean_terms,
        mean_rtt_ms=sum(p.rtt_ms for p in steps) / n if n else 0.0,
        latency_mean_s=sum(latencies) / n if n else 0.0,
        latency_p95_s=_percentile(latencies, 0.95),
        all_cloud_latency_mean_s=sum(finite) / len(finite) if finite else math.inf,
        spent_usd=sum(p.cloud_price_usd for p in steps),
        all_cloud_usd=sum(p.expected_cloud_price_usd for p in steps),
    )


def step_point(trace: RouteTrace, policy: NetGPTPolicy) -> StepPoint:
    """Reduce a trace to its :class:`StepPoint` (with its tau terms under ``policy``)."""
    return StepPoint(
        created_at=trace.created_at,
        session_id=trace.session_id,
        rtt_ms=trace.network.rtt_ms,
        bandwidth_up_mbps=trace.network.bandwidth_up_mbps,
        score=trace.score,
        tau=trace.threshold,
        decided=trace.decided_target,
        target=trace.final_target,
        fallback=trace.fallback,
        overridden_by=trace.overridden_by,
        why=_why(trace),
        latency_s=trace.latency_s,
        cloud_price_usd=trace.cloud_price_usd,
        expected_cloud_s=trace.expected_cloud_s,
        expected_cloud_price_usd=trace.expected_cloud_price_usd,
        terms=tau_terms(trace, policy),
    )


def _window_key(created_at: float, window_s: float) -> str:
    start = math.floor(created_at / window_s) * window_s
    return datetime.fromtimestamp(start, tz=UTC).isoformat(timespec="seconds")


def build_routes_report(
    traces: Iterable[RouteTrace],
    *,
    group_by: GroupBy = "session",
    window_s: float = 3600.0,
    policy: NetGPTPolicy | None = None,
) -> RoutesReport:
    """Group traces per session or time window and say where their steps went and why.

    Args:
        traces: The traces, in any order (they are sorted by ``created_at``).
        group_by: ``"session"`` (by ``session_id``; none: ``"(no session)"``), ``"window"``
            (``window_s``-long UTC windows) or ``"all"`` (one group).
        window_s: Window length for ``group_by="window"``.
        policy: The NetGPT policy that routed (for the tau breakdown); default parameters
            when omitted.

    Returns:
        The report (groups in order of their first step, the total, and the timeline).

    Raises:
        ValueError: ``group_by`` or ``window_s`` is invalid.

    Example:
        .. code-block:: python

            from langchain_netgpt import NetGPTRouter
            from langchain_netgpt.observe import build_routes_report
            from langchain_netgpt.testing import ScriptedChatModel
            from langchain_netgpt.tracing import InMemoryTraceSink

            sink = InMemoryTraceSink()
            router = NetGPTRouter(
                edge=ScriptedChatModel(responses=["e"]),
                cloud=ScriptedChatModel(responses=["c"]),
                sinks=[sink],
            )
            router.invoke("hello")
            report = build_routes_report(sink.traces)
            assert report.total.steps == 1
    """
    if group_by not in ("session", "window", "all"):
        raise ValueError(f"group_by must be 'session', 'window' or 'all', got {group_by!r}")
    if not (isinstance(window_s, int | float) and 0 < window_s < math.inf):
        raise ValueError(f"window_s must be a positive number of seconds, got {window_s!r}")
    chosen = policy if policy is not None else NetGPTPolicy()
    # Each trace is reduced as it streams by: a large store never sits in memory whole.
    ordered = sorted((step_point(trace, chosen) for trace in traces), key=lambda p: p.created_at)
    groups: dict[str, list[StepPoint]] = {}
    for point in ordered:
        if group_by == "session":
            key = point.session_id or "(no session)"
        elif group_by == "window":
            key = _window_key(point.created_at, window_s)
        else:
            key = "all"
        groups.setdefault(key, []).append(point)
    return RoutesReport(
        group_by=group_by,
        window_s=window_s if group_by == "window" else None,
        groups=[_group(key, members) for key, members in groups.items()],
        total=_group("total", ordered),
        timeline=ordered,
    )


def read_route_traces(
    source: str | Path,
    *,
    since: float | None = None,
    until: float | None = None,
    session_id: str | None = None,
) -> Iterator[RouteTrace]:
    """Stream traces from a ``TraceStore`` (SQLite path or ``postgresql://`` URL) or a JSONL file.

    Raises:
        FileNotFoundError: ``source`` is neither a URL nor an existing file.
    """
    from langchain_netgpt._postgres import is_postgres_url
    from langchain_netgpt.tracing.sinks import read_jsonl_traces
    from langchain_netgpt.tracing.store import TraceStore

    if not is_postgres_url(source):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"no trace store or JSONL file at {path}")
        if path.suffix == ".jsonl":
            for trace in read_jsonl_traces(path):
                if (
                    (since is None or trace.created_at >= since)
                    and (until is None or trace.created_at < until)
                    and (session_id is None or trace.session_id == session_id)
                ):
                    yield trace
            return
    with TraceStore(source) as store:
        yield from store.query(since=since, until=until, session_id=session_id)
