"""Pareto plots of the replay benchmark (matplotlib, Agg backend; the ``bench`` extra).

Example:
    .. code-block:: python

        from langchain_netgpt.bench.plots import FAMILY_STYLES

        assert "netgpt-learned" in FAMILY_STYLES
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_netgpt.bench.policies import PolicyFamily

if TYPE_CHECKING:
    from langchain_netgpt.bench.report import BenchReport

__all__ = ["FAMILY_STYLES", "plot_pareto"]

FAMILY_STYLES: dict[PolicyFamily, tuple[str, str]] = {
    PolicyFamily.NETGPT_LEARNED: ("tab:red", "o-"),
    PolicyFamily.NETGPT_HEURISTIC: ("tab:orange", "s-"),
    PolicyFamily.FIXED_LEARNED: ("tab:blue", ".--"),
    PolicyFamily.FIXED_HEURISTIC: ("tab:cyan", ".:"),
    PolicyFamily.RANDOM: ("tab:gray", "x-"),
}
"""Colour and line style per curve family."""

_SINGLE = ("always-edge", "always-cloud", "oracle", "netgpt-learned-budget")


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the benchmark plots need matplotlib: pip install 'langchain-netgpt[bench]'"
        ) from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_pareto(report: BenchReport, out: str | Path) -> list[Path]:
    """Write accuracy against cloud share and against p50 latency, one panel per scenario.

    Returns:
        The two PNG files.

    Raises:
        ImportError: matplotlib is not installed (names the extra).
    """
    plt = _pyplot()
    directory = Path(out)
    written: list[Path] = []
    n = len(report.scenarios)
    cols = min(3, n)
    rows = (n + cols - 1) // cols
    for x_field, x_label, file_name in (
        ("cloud_share", "cloud-call share", "pareto_accuracy_vs_cloud_share.png"),
        ("latency_p50_s", "p50 latency (s)", "pareto_accuracy_vs_latency.png"),
    ):
        fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 4 * rows), squeeze=False)
        for index, scenario in enumerate(report.scenarios):
            ax = axes[index // cols][index % cols]
            for family, (colour, style) in FAMILY_STYLES.items():
                points = sorted(
                    (getattr(m, x_field), m.accuracy)
                    for m in scenario.policies
                    if m.family == family
                )
                if points:
                    xs, ys = zip(*points, strict=True)
                    ax.plot(
                        xs, ys, style, color=colour, label=family.value, markersize=4, linewidth=1
                    )
            for name in _SINGLE:
                m = scenario.policy(name)
                ax.scatter([getattr(m, x_field)], [m.accuracy], marker="*", s=80, zorder=3)
                ax.annotate(name, (getattr(m, x_field), m.accuracy), fontsize=7)
            ax.set_title(scenario.name, fontsize=9)
            ax.set_xlabel(x_label)
            ax.set_ylabel("BFCL accuracy")
            ax.grid(alpha=0.3)
            if index == 0:
                ax.legend(fontsize=7, loc="lower right")
        for index in range(n, rows * cols):
            axes[index // cols][index % cols].axis("off")
        cloud = (
            "recorded cloud"
            if report.cloud_mode.startswith("recorded")
            else f"simulated cloud, accuracy {report.config['cloud_accuracy']:g}"
        )
        fig.suptitle(
            f"{report.edge_outcomes['model']} edge vs {cloud}; test split of "
            f"{report.split['test']} tasks"
        )
        fig.tight_layout()
        path = directory / file_name
        fig.savefig(path, dpi=80)
        plt.close(fig)
        written.append(path)
    return written
