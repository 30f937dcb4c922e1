"""Run the pairs benchmark end to end: splits, scorers, peers, scenarios, economics, criteria.

:func:`run_pair_benchmark` replays, for every seed, every (trace, workload) scenario over the test
half, and returns a :class:`PairBenchReport` (what ``pairs-report.json`` holds; the same files,
options and embedding cache give the same bytes).
:func:`~langchain_netgpt.bench.pair_render.render_pair_markdown` writes it as Markdown.

Example:
    .. code-block:: python

        from langchain_netgpt.bench.pair_report import ROUTELLM_PUBLISHED_GSM8K

        assert ROUTELLM_PUBLISHED_GSM8K["source"].startswith("Ong et al.")
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from langchain_netgpt.bench.pair_bench import (
    PairBenchConfig,
    PairTask,
    ReplayArrays,
    ScenarioSteps,
    build_pair_tasks,
    netgpt_closed_form,
    output_estimates,
    replay_pairs,
    threshold_policy,
)
from langchain_netgpt.bench.pair_fit import SCORERS, fit_seed
from langchain_netgpt.bench.replay import Scenario, pair_traces
from langchain_netgpt.errors import BenchmarkDataError
from langchain_netgpt.recorded.curves import ranking_curve
from langchain_netgpt.recorded.pair_outcomes import load_pairs
from langchain_netgpt.recorded.splits import split_by_category
from langchain_netgpt.routing.latency import LatencyModel
from langchain_netgpt.routing.text_embedding import EmbeddingCache, TextEmbedder, make_embedder

__all__ = [
    "PAIR_REPORT_SCHEMA_VERSION",
    "ROUTELLM_PUBLISHED_GSM8K",
    "PairBenchReport",
    "run_pair_benchmark",
]

PAIR_REPORT_SCHEMA_VERSION = 1

ROUTELLM_PUBLISHED_GSM8K: dict[str, Any] = {
    "source": (
        "Ong et al., 'RouteLLM: Learning to Route LLMs with Preference Data', arXiv 2406.18665v4, "
        "Table 3 (8-shot GSM8K, gpt-4-1106-preview vs Mixtral-8x7B-Instruct, the 1,307 "
        "decontaminated questions)"
    ),
    "trained_on": (
        "other data: Chatbot Arena battles (D_arena), augmented with GPT-4-judge labels "
        "(D_judge); not GSM8K, not our train half; evaluated on all 1,307 questions, not our "
        "test half"
    ),
    "rows": [
        {"data": "-", "router": "random (95% CI)", "cpt50": 0.5000, "cpt80": 0.8008, "apgr": 0.497},
        {"data": "arena", "router": "BERT", "cpt50": 0.5878, "cpt80": 0.8384, "apgr": 0.438},
        {"data": "arena", "router": "Causal LLM", "cpt50": 0.5609, "cpt80": 0.8356, "apgr": 0.461},
        {
            "data": "arena",
            "router": "Matrix Factorization",
            "cpt50": 0.5359,
            "cpt80": 0.8524,
            "apgr": 0.4746,
        },
        {"data": "arena", "router": "SW Ranking", "cpt50": 0.5443, "cpt80": 0.8211, "apgr": 0.4753},
        {"data": "arena+judge", "router": "BERT", "cpt50": 0.4476, "cpt80": 0.7909, "apgr": 0.531},
        {
            "data": "arena+judge",
            "router": "Causal LLM",
            "cpt50": 0.3364,
            "cpt80": 0.6326,
            "apgr": 0.622,
        },
        {
            "data": "arena+judge",
            "router": "Matrix Factorization",
            "cpt50": 0.3882,
            "cpt80": 0.7262,
            "apgr": 0.565,
        },
        {
            "data": "arena+judge",
            "router": "SW Ranking",
            "cpt50": 0.4121,
            "cpt80": 0.7220,
            "apgr": 0.568,
        },
    ],
}
"""RouteLLM's own GSM8K figures, quoted (not reproduced): trained on other data."""


class PairBenchReport(BaseModel):
    """A whole ``--pairs`` run (what ``report.json`` holds)."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = PAIR_REPORT_SCHEMA_VERSION
    config: dict[str, Any]
    pair_files: list[str]
    trace_files: list[str]
    data: dict[str, Any] = Field(description="Rows, models, qualities, what was dropped.")
    profiles: dict[str, str] = Field(description="Each side's speed/price statement, sources.")
    prices_reason: str
    output_estimate: list[str] = Field(description="How missing answers were sized, per seed.")
    splits: list[dict[str, Any]]
    fits: list[dict[str, Any]]
    quality_only: dict[str, Any]
    routellm_published: dict[str, Any]
    scenarios: list[dict[str, Any]]
    network: dict[str, Any]
    economics: list[dict[str, Any]]
    criteria: dict[str, Any]


def _sweep(steps: ScenarioSteps, scorer: str, points: int) -> list[float]:
    scores = sorted(item.scores[scorer] for item in steps.tasks)
    picks = {0.0, 1.0 + 1e-9}
    for k in range(1, points - 1):
        picks.add(scores[min(len(scores) - 1, round(k * (len(scores) - 1) / (points - 1)))])
    return sorted(picks)


def _replay_scenario(
    steps: ScenarioSteps,
    config: PairBenchConfig,
    latency_model: LatencyModel,
    cloud_quality: float,
) -> dict[str, Any]:
    """Every policy at every grid price: per-step arrays are replayed once per decision rule."""
    fixed: dict[str, list[tuple[float, ReplayArrays]]] = {}
    for scorer in SCORERS:
        fixed[scorer] = [
            (t, replay_pairs(steps, threshold_policy(steps, scorer, t)))
            for t in _sweep(steps, scorer, config.sweep_points)
        ]
    base = {
        "always-edge": replay_pairs(steps, lambda i, w: False),
        "always-cloud": replay_pairs(steps, lambda i, w: True),
        "oracle": replay_pairs(
            steps, lambda i, w: steps.tasks[i].cloud_quality > steps.tasks[i].edge_quality
        ),
    }
    netgpt: dict[tuple[str, float, float], ReplayArrays] = {}
    prices = {(config.value_correct_usd, config.latency_usd_per_s)}
    prices |= {(v, lt) for v in config.value_grid for lt in config.latency_price_grid}
    # (name, scorer, sees the network, sees the queue); the last two are ablations of the first.
    variants = (
        ("text", "text", True, True),
        ("text-edge", "text-edge", True, True),
        ("features", "features", True, True),
        ("text-static-link", "text", False, True),
        ("text-no-queue", "text", True, False),
    )
    default = (config.value_correct_usd, config.latency_usd_per_s)
    for name, scorer, see_network, see_queue in variants:
        for value, lt in sorted(prices):
            if name in ("text-edge", "features") and (value, lt) != default:
                continue
            netgpt[(name, value, lt)] = replay_pairs(
                steps,
                netgpt_closed_form(
                    steps,
                    scorer,
                    value_usd=value,
                    latency_usd_per_s=lt,
                    cloud_usd_weight=config.cloud_usd_weight,
                    cloud_quality=cloud_quality,
                    latency_model=latency_model,
                    see_network=see_network,
                    see_queue=see_queue,
                ),
            )
    return {"fixed": fixed, "base": base, "netgpt": netgpt}


def _scenarios(
    config: PairBenchConfig,
    traces: Sequence[Path],
    tasks_test: Sequence[PairTask],
    seed: int,
    latency_model: LatencyModel,
    outputs: tuple[int, int],
    cloud_quality: float,
) -> list[tuple[Scenario, ScenarioSteps, dict[str, Any]]]:
    out = []
    for index, spec in enumerate(pair_traces(traces)):
        rtt = config.base_rtts_ms[index % len(config.base_rtts_ms)]
        for name, workload in config.workloads.items():
            scenario = Scenario(
                spec,
                base_rtt_ms=rtt,
                workload_name=name,
                workload=workload,
                window_s=config.window_s,
                forecast=config.network_forecast,
            )
            steps = ScenarioSteps.build(scenario, tasks_test, config, latency_model, outputs, seed)
            out.append(
                (scenario, steps, _replay_scenario(steps, config, latency_model, cloud_quality))
            )
    return out


def _latency_model(
    config: PairBenchConfig, train: Sequence[PairTask], outputs: tuple[int, int]
) -> LatencyModel:
    # What the policy expects an answer to take: the mean recorded length of both sides' answers.
    return LatencyModel(
        edge=config.edge.side,
        cloud=config.cloud.side,
        expected_output_tokens=max(1, round((outputs[0] + outputs[1]) / 2)),
    )


def run_pair_benchmark(
    pair_files: Sequence[str | Path],
    trace_files: Sequence[str | Path],
    *,
    config: PairBenchConfig | None = None,
    cache: EmbeddingCache | None = None,
    embedders: Sequence[TextEmbedder] | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> PairBenchReport:
    """Replay the pairs benchmark.

    Args:
        pair_files: Pair-outcome files (rows of all files are pooled; ids must be unique).
        trace_files: Mahimahi traces.
        config: Settings.
        cache: Embedding cache (a loaded file skips the embedding model).
        embedders: Embedder instances for ``config.embedders`` (default: built by name).
        on_progress: Called with ``(what, done, total)`` as seeds and scenarios finish.

    Raises:
        BenchmarkDataError: A file is bad, ids repeat across files, or too few rows remain.
        FileNotFoundError: A file does not exist.
    """
    from threadpoolctl import threadpool_limits

    config = config or PairBenchConfig()
    cache = cache if cache is not None else EmbeddingCache()
    if not pair_files or not trace_files:
        raise BenchmarkDataError("pass at least one pair-outcome file and one trace", path="<none>")
    rows, dropped = [], 0
    for file in pair_files:
        kept = load_pairs(file, drop_contaminated=config.drop_contaminated)
        dropped += len(load_pairs(file)) - len(kept)
        rows.extend(kept)
    if len({r.id for r in rows}) != len(rows):
        raise BenchmarkDataError("a row id appears in two pair files", path=str(pair_files[0]))
    if len(rows) < 40:
        raise BenchmarkDataError(
            f"only {len(rows)} rows: at least 40 are needed", path=str(pair_files[0])
        )
    instances = (
        list(embedders) if embedders is not None else [make_embedder(n) for n in config.embedders]
    )
    tasks = build_pair_tasks(rows, config.edge, config.cloud)
    total = len(config.seeds)
    per_seed: list[dict[str, Any]] = []
    # Embed every text once, at full speed (a cache file makes this free).
    for embedder in instances:
        cache.embed(embedder, sorted({t.text for t in tasks}))
    # One BLAS thread: the matrices are small, and the result must not depend on thread timing.
    with threadpool_limits(limits=1):
        for done, seed in enumerate(config.seeds, start=1):
            per_seed.append(_run_seed(seed, tasks, trace_files, config, instances, cache))
            if on_progress is not None:
                on_progress(f"seed {seed}", done, total)
    from langchain_netgpt.bench.pair_summary import summarise

    report: PairBenchReport = summarise(per_seed, config, pair_files, trace_files, rows, dropped)
    return report


def _run_seed(
    seed: int,
    tasks: Sequence[PairTask],
    traces: Sequence[str | Path],
    config: PairBenchConfig,
    embedders: Sequence[TextEmbedder],
    cache: EmbeddingCache,
) -> dict[str, Any]:
    for t in tasks:
        t.scores.clear()
    train, test = split_by_category(
        tasks,
        id_of=lambda t: t.id,
        category_of=lambda t: t.category,
        test_fraction=config.test_fraction,
        seed=seed,
    )
    train.sort(key=lambda t: t.id)
    fit = fit_seed(train, test, seed=seed, config=config, embedders=embedders, cache=cache)
    e_out, c_out, how = output_estimates(train)
    cloud_quality = sum(t.cloud_quality for t in train) / len(train)
    latency_model = _latency_model(config, train, (e_out, c_out))
    scenarios = _scenarios(
        config, [Path(p) for p in traces], test, seed, latency_model, (e_out, c_out), cloud_quality
    )
    quality: dict[str, Any] = {
        "ids": [t.id for t in test],
        "edge": [t.edge_quality for t in test],
        "cloud": [t.cloud_quality for t in test],
        "scores": {s: [t.scores[s] for t in test] for s in SCORERS},
    }
    curves = {
        s: {
            k: v
            for k, v in ranking_curve(
                quality["scores"][s],
                edge_quality=quality["edge"],
                cloud_quality=quality["cloud"],
                ids=quality["ids"],
            ).items()
            if k != "points"
        }
        for s in SCORERS
    }
    return {
        "seed": seed,
        "split": {
            "seed": seed,
            "train": len(train),
            "test": len(test),
            "train_cloud_quality": cloud_quality,
            "train_edge_quality": sum(t.edge_quality for t in train) / len(train),
        },
        "fit": {
            "seed": seed,
            **fit,
            "expected_output_tokens": latency_model.expected_output_tokens,
        },
        "output_estimate": f"seed {seed}: {how}",
        "quality": quality,
        "curves": curves,
        "scenarios": scenarios,
        "cloud_quality": cloud_quality,
    }
