"""Self-offload on recorded BFCL outcomes: does the edge escalate where it would fail?

Two recordings of the same edge model over the same task ids are compared: one made with
``allow_escalation=True`` (the model may answer ``{"escalate": true, ...}``) and the usual one
without it, whose BFCL verdicts say where the edge really fails. Reported:

* escalation precision (escalated steps the edge would have failed) and recall (failures that
  were escalated), against a random escalator's precision (the failure rate);
* the self-offload operating point (edge first, escalate to the cloud): accuracy and PGR at its
  own cloud share, next to a random router, the heuristic score-threshold router and the oracle
  at the same share;
* APGR of the heuristic threshold sweep with and without escalations sent to the cloud first.

The cloud's verdicts are the replay benchmark's seeded draws (:func:`~.replay.cloud_draws`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, ConfigDict

from langchain_netgpt.bench.replay import BenchConfig, cloud_draws, prepare_tasks
from langchain_netgpt.errors import BenchmarkDataError
from langchain_netgpt.recorded.bfcl_tasks import load_bfcl
from langchain_netgpt.recorded.curves import apgr, pgr
from langchain_netgpt.recorded.edge_outcomes import EdgeOutcome, load_edge_outcomes
from langchain_netgpt.routing.scoring import HeuristicScorer

__all__ = [
    "OffloadReport",
    "default_escalation_outcomes",
    "measure_self_offload",
    "offload_bench_row",
]


class OffloadReport(BaseModel):
    """Self-offload measured against the edge's real failures.

    Attributes:
        tasks: Task ids in both recordings.
        escalations: Steps the escalating edge handed over.
        edge_failures: Steps the non-escalating edge got wrong.
        precision: Share of escalations where the edge would have failed (``None``: none).
        recall: Share of edge failures that were escalated.
        random_precision: A random escalator's precision (the failure rate).
        cloud_share: Self-offload's cloud share (escalations / tasks).
        accuracy: Edge-first with escalation to the cloud.
        accuracy_random: Random router at the same share (expected).
        accuracy_heuristic: Heuristic score threshold at the same share.
        accuracy_oracle: Oracle at the same share.
        pgr: PGR of self-offload (``None`` when the cloud does not beat the edge).
        pgr_random: PGR of the random router at the same share.
        pgr_heuristic: PGR of the heuristic threshold at the same share.
        apgr_heuristic: APGR of the heuristic threshold sweep.
        apgr_escalation_first: APGR of the sweep that sends escalations to the cloud first
            (other steps answered by the escalating edge).
        edge_accuracy_kept: Accuracy of the escalating edge on the steps it kept.
        edge_accuracy_same_steps: Accuracy of the plain edge on those same steps.
        answers_changed: Kept steps whose calls differ between the two recordings (the
            escalation branch in the prompt and grammar changes answers, not only escalations).
    """

    model_config = ConfigDict(frozen=True)

    tasks: int
    escalations: int
    edge_failures: int
    precision: float | None
    recall: float
    random_precision: float
    cloud_share: float
    accuracy: float
    accuracy_random: float
    accuracy_heuristic: float
    accuracy_oracle: float
    pgr: float | None
    pgr_random: float | None
    pgr_heuristic: float | None
    apgr_heuristic: float | None
    apgr_escalation_first: float | None
    edge_accuracy_kept: float | None
    edge_accuracy_same_steps: float | None
    answers_changed: int


def _messages(raw: Sequence[dict[str, str]]) -> list[BaseMessage]:
    return [
        SystemMessage(m["content"]) if m["role"] == "system" else HumanMessage(m["content"])
        for m in raw
    ]


def _mean(values: Sequence[bool | float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _shared_tasks(
    escalating: str | Path, plain: str | Path, files: Sequence[str | Path], config: BenchConfig
) -> tuple[
    list[str], dict[str, EdgeOutcome], dict[str, EdgeOutcome], dict[str, bool], dict[str, float]
]:
    """The tasks both recordings hold, and what is known of them.

    Returns the task ids, the escalating and the plain outcomes, the simulated cloud's verdicts
    and the heuristic scores.

    Raises:
        BenchmarkDataError: The recordings share no task id of ``files``.
    """
    esc = load_edge_outcomes(escalating).rows
    base = load_edge_outcomes(plain).rows
    tasks = [t for f in files for t in load_bfcl(f) if t.id in esc and t.id in base]
    if not tasks:
        raise BenchmarkDataError(
            f"{escalating} and {plain} share no task id of the given files", path=str(escalating)
        )
    replay_tasks = prepare_tasks(tasks, base)
    cloud = cloud_draws(replay_tasks, config)
    scorer = HeuristicScorer()
    score = {r.task.id: scorer.score(r.features, _messages(r.task.messages)) for r in replay_tasks}
    return [t.id for t in tasks], esc, base, cloud, score


def measure_self_offload(
    escalating: str | Path,
    plain: str | Path,
    files: Sequence[str | Path],
    *,
    config: BenchConfig | None = None,
) -> OffloadReport:
    """Compare an escalating recording with the plain one over the task ids both hold.

    Args:
        escalating: Outcomes recorded with ``allow_escalation=True``.
        plain: Outcomes recorded without escalation (the ground truth of edge failures).
        files: The BFCL files both were recorded from.
        config: Cloud accuracy and seed of the simulated cloud (the replay default).

    Raises:
        BenchmarkDataError: A file is bad or the recordings share no task.
    """
    ids, esc, base, cloud, score = _shared_tasks(escalating, plain, files, config or BenchConfig())
    n = len(ids)
    escalated = {i for i in ids if esc[i].escalated}
    failed = {i for i in ids if not base[i].correct}
    edge_acc = _mean([base[i].correct for i in ids])
    cloud_acc = _mean([cloud[i] for i in ids])
    share = len(escalated) / n
    k = len(escalated)

    def gain(acc: float) -> float | None:
        return (
            None
            if cloud_acc <= edge_acc
            else pgr(acc, edge_accuracy=edge_acc, cloud_accuracy=cloud_acc)
        )

    def sweep(order: Sequence[str], edge_ok: dict[str, bool]) -> list[tuple[float, float]]:
        points = []
        for m in range(1, n):
            sent = set(order[:m])
            acc = _mean([cloud[i] if i in sent else edge_ok[i] for i in ids])
            points.append((m / n, gain(acc) or 0.0))
        return points

    plain_ok = {i: base[i].correct for i in ids}
    esc_ok = {i: (not esc[i].escalated) and esc[i].correct for i in ids}
    by_score = sorted(ids, key=lambda i: score[i])
    heuristic_sent = set(by_score[:k])
    oracle_order = sorted(ids, key=lambda i: (base[i].correct, not cloud[i]))
    accuracy = _mean([cloud[i] if i in escalated else esc[i].correct for i in ids])
    acc_heuristic = _mean([cloud[i] if i in heuristic_sent else plain_ok[i] for i in ids])
    acc_oracle = _mean([cloud[i] if i in set(oracle_order[:k]) else plain_ok[i] for i in ids])
    acc_random = (1 - share) * edge_acc + share * cloud_acc
    kept = [i for i in ids if i not in escalated]
    comparable = cloud_acc > edge_acc
    escalation_first = sorted(ids, key=lambda i: (i not in escalated, score[i]))
    return OffloadReport(
        tasks=n,
        escalations=k,
        edge_failures=len(failed),
        precision=len(escalated & failed) / k if k else None,
        recall=len(escalated & failed) / len(failed) if failed else 0.0,
        random_precision=len(failed) / n,
        cloud_share=share,
        accuracy=accuracy,
        accuracy_random=acc_random,
        accuracy_heuristic=acc_heuristic,
        accuracy_oracle=acc_oracle,
        pgr=gain(accuracy),
        pgr_random=gain(acc_random),
        pgr_heuristic=gain(acc_heuristic),
        apgr_heuristic=apgr(sweep(by_score, plain_ok)) if comparable else None,
        apgr_escalation_first=apgr(sweep(escalation_first, esc_ok)) if comparable else None,
        edge_accuracy_kept=_mean([esc[i].correct for i in kept]) if kept else None,
        edge_accuracy_same_steps=_mean([plain_ok[i] for i in kept]) if kept else None,
        answers_changed=sum(esc[i].calls != base[i].calls for i in kept),
    )


def default_escalation_outcomes() -> Path:
    """The committed recording of the bundled edge with ``allow_escalation=True``."""
    return Path(__file__).resolve().parent / "data" / "edge_outcomes_smollm2_135m_escalate.jsonl"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def offload_bench_row(
    files: Sequence[str | Path],
    plain: str | Path,
    *,
    escalating: str | Path | None = None,
    config: BenchConfig | None = None,
) -> dict[str, str]:
    """The ``netgpt bench`` row of self-offload: what it measured, or why it could not.

    Args:
        files: The BFCL files of the run.
        plain: The plain edge outcomes the replay uses.
        escalating: The escalating recording (default :func:`default_escalation_outcomes`).
        config: The replay's configuration (cloud accuracy and seed).
    """
    path = Path(escalating) if escalating is not None else default_escalation_outcomes()
    if not path.is_file():
        return {"part": "self-offload", "result": f"no escalating recording at {path}"}
    try:
        r = measure_self_offload(path, plain, files, config=config)
    except BenchmarkDataError as exc:
        return {"part": "self-offload", "result": f"not measured: {exc}"}
    if r.escalations == 0:
        result = (
            f"0/{r.tasks} escalated: the edge never chose the escalation branch, so self-offload "
            f"moved no step at any cloud share (APGR unchanged); the branch in the prompt "
            f"changed {r.answers_changed} answers: edge accuracy {_pct(r.edge_accuracy_kept)} "
            f"vs {_pct(r.edge_accuracy_same_steps)} without it"
        )
        return {"part": "self-offload", "result": result, "json": r.model_dump_json()}
    return {
        "part": "self-offload",
        "result": (
            f"{r.escalations}/{r.tasks} escalated (cloud share {_pct(r.cloud_share)}); "
            f"precision {_pct(r.precision)} vs random {_pct(r.random_precision)}, "
            f"recall {_pct(r.recall)}; accuracy {_pct(r.accuracy)} vs heuristic "
            f"{_pct(r.accuracy_heuristic)} / random {_pct(r.accuracy_random)} / oracle "
            f"{_pct(r.accuracy_oracle)} at that share; APGR heuristic "
            f"{_pct(r.apgr_heuristic)}, escalations first {_pct(r.apgr_escalation_first)}"
        ),
        "json": r.model_dump_json(),
    }
