"""Service times learned online: a side's overhead, prefill and decode rates fitted as it serves.

The latency model's profiles are priors. A router that runs the bundled edge on a laptop CPU with
the GPU profile expects 0.6 s where the edge takes 30 s; :class:`ServiceTimeLearner` corrects that
within a few steps. Each observed call gives one equation

``elapsed_s = overhead_s + prompt_tokens / prefill_rate + output_tokens / decode_rate``,

linear in ``theta = (overhead_s, 1/prefill_rate, 1/decode_rate)``. The learner solves a weighted
ridge regression over its recent calls: residuals count relatively (service times vary by a share,
not by a fixed number of seconds), older calls fade (the machine's load changes), and a prior
centred on the device profile with a wide relative spread keeps the fit sane while few calls have
been seen. The coefficients are constrained to be non-negative (the exact constrained optimum over
the 3 coefficients, by active sets), so one odd call cannot produce a negative rate.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections import deque
from typing import Any

from langchain_netgpt.routing.latency import SideProfile

__all__ = ["EdgeSpeedTracker", "ServiceTimeLearner", "speed_prior_for"]

_OVERHEAD_SPREAD_S = 1.0  # a fixed per-call cost is what a device profile can miss outright
_MIN_RATE_INV = 1e-7  # 10 M tokens/s: keeps every learned rate finite


class ServiceTimeLearner:
    """Fits one side's :class:`SideProfile` from the service times it is seen to take.

    Thread-safe: the router observes from worker threads while decisions read the profile.

    Args:
        prior: The profile to start from (a device-appropriate default, see
            :func:`speed_prior_for`). Prices and ``prompt_cache`` are kept from it.
        prior_spread: Relative standard deviation of the prior coefficients: wide (30) because a
            device profile can be off by one or two orders of magnitude (a GPU profile on a
            CPU), narrow enough to keep a single call's fit determined.
        noise_share: Relative standard deviation of one call around the model.
        half_life_calls: After this many newer calls, an observation weighs half as much.
        window: Most recent calls kept for the fit.
        output_tokens_prior: Expected output tokens of an answer before any is seen.
        output_tokens_weight: EWMA weight of a new call in the expected output tokens (the
            average is bias-corrected: the prior weighs half a call and fades with age).

    Example:
        .. code-block:: python

            from langchain_netgpt.routing.latency import DEFAULT_EDGE
            from langchain_netgpt.routing.service_time import ServiceTimeLearner

            learner = ServiceTimeLearner(DEFAULT_EDGE)  # a GPU prior ...
            for _ in range(5):  # ... on an edge that really takes ~12 s a call
                learner.observe(prompt_tokens=400, output_tokens=40, elapsed_s=12.0)
            assert abs(learner.predict_s(prompt_tokens=400, output_tokens=40) - 12.0) < 1.0
    """

    def __init__(
        self,
        prior: SideProfile,
        *,
        prior_spread: float = 30.0,
        noise_share: float = 0.2,
        half_life_calls: float = 20.0,
        window: int = 64,
        output_tokens_prior: float = 48.0,
        output_tokens_weight: float = 0.3,
    ) -> None:
        for name, value in (
            ("prior_spread", prior_spread),
            ("noise_share", noise_share),
            ("half_life_calls", half_life_calls),
            ("output_tokens_prior", output_tokens_prior),
        ):
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive finite number, got {value!r}")
        if not (isinstance(window, int) and window >= 3):
            raise ValueError(f"window must be an int >= 3, got {window!r}")
        if not 0 < output_tokens_weight <= 1:
            raise ValueError(
                f"output_tokens_weight must be in (0, 1], got {output_tokens_weight!r}"
            )
        self.prior = prior
        self._theta0 = (
            prior.overhead_s,
            1.0 / prior.prefill_tokens_per_s,
            1.0 / prior.decode_tokens_per_s,
        )
        # Prior precision per coefficient, in units of one call's relative noise.
        spreads = (
            max(prior_spread * self._theta0[0], _OVERHEAD_SPREAD_S),
            prior_spread * self._theta0[1],
            prior_spread * self._theta0[2],
        )
        self._prior_precision = tuple(1.0 / sd**2 for sd in spreads)
        self._noise_share = noise_share
        self._decay = 0.5 ** (1.0 / half_life_calls)
        self._calls: deque[tuple[float, float, float]] = deque(maxlen=window)
        self._out_weight = output_tokens_weight
        self._lock = threading.Lock()
        self._theta = self._theta0
        self._output_tokens = float(output_tokens_prior)
        # A bias-corrected EWMA: the prior counts as half a call and fades like an old call,
        # so a few answers outweigh it (a plain EWMA keeps 0.7^5 of a wrong prior after 5).
        self._out_sum = 0.5 * float(output_tokens_prior)
        self._out_weights = 0.5
        self.observations = 0

    def observe(self, *, prompt_tokens: int, output_tokens: int, elapsed_s: float) -> None:
        """Fold in one call that took ``elapsed_s`` to read ``prompt_tokens`` and write the rest.

        Raises:
            ValueError: A negative token count or a non-positive / non-finite time.
        """
        if prompt_tokens < 0 or output_tokens < 0:
            raise ValueError(
                f"token counts must be >= 0, got prompt={prompt_tokens}, output={output_tokens}"
            )
        if not (math.isfinite(elapsed_s) and elapsed_s > 0):
            raise ValueError(f"elapsed_s must be a positive finite time, got {elapsed_s!r}")
        with self._lock:
            self._calls.append((float(prompt_tokens), float(output_tokens), float(elapsed_s)))
            # Two reweighting passes: each call's noise scale is the fit's own prediction for
            # it (scaling by the observed time would weigh fast calls more and bias the fit down).
            for _ in range(2):
                self._theta = self._fit(self._theta)
            keep = 1.0 - self._out_weight
            self._out_sum = keep * self._out_sum + output_tokens
            self._out_weights = keep * self._out_weights + 1.0
            self._output_tokens = self._out_sum / self._out_weights
            self.observations += 1

    def _fit(self, scale_theta: tuple[float, float, float]) -> tuple[float, float, float]:
        """The non-negative weighted ridge solution over the kept calls.

        Args:
            scale_theta: Coefficients whose prediction of each call sets that call's noise.
        """
        a = [[0.0] * 3 for _ in range(3)]
        b = [0.0] * 3
        weight = 1.0
        for prompt, output, elapsed in reversed(self._calls):
            x = (1.0, prompt, output)
            scale = max(sum(t * xi for t, xi in zip(scale_theta, x, strict=True)), 1e-3)
            w = weight / (self._noise_share * scale) ** 2
            for i in range(3):
                b[i] += w * x[i] * elapsed
                for j in range(3):
                    a[i][j] += w * x[i] * x[j]
            weight *= self._decay
        for i in range(3):
            a[i][i] += self._prior_precision[i]
            b[i] += self._prior_precision[i] * self._theta0[i]
        best: tuple[float, tuple[float, float, float]] | None = None
        # Exact constrained optimum: try every set of coefficients held at zero.
        for free in itertools.chain.from_iterable(
            itertools.combinations(range(3), k) for k in (3, 2, 1, 0)
        ):
            theta = _solve_subset(a, b, free)
            if theta is None or min(theta) < 0:
                continue
            cost = _quadratic_cost(a, b, theta)
            if best is None or cost < best[0] - 1e-15:
                best = (cost, theta)
        assert best is not None  # the all-zero subset is always feasible
        overhead, prefill_inv, decode_inv = best[1]
        return overhead, max(prefill_inv, _MIN_RATE_INV), max(decode_inv, _MIN_RATE_INV)

    def predict_s(self, *, prompt_tokens: int, output_tokens: float | None = None) -> float:
        """Expected service time of a call (``output_tokens`` defaults to the learned mean)."""
        with self._lock:
            out = self._output_tokens if output_tokens is None else output_tokens
            a, b, c = self._theta
        return a + b * prompt_tokens + c * out

    @property
    def expected_output_tokens(self) -> float:
        """Running mean of the output tokens this side has written."""
        with self._lock:
            return self._output_tokens

    def profile(self) -> SideProfile:
        """The learned profile (prices and ``prompt_cache`` from the prior)."""
        with self._lock:
            a, b, c = self._theta
        return self.prior.model_copy(
            update={
                "overhead_s": a,
                "prefill_tokens_per_s": 1.0 / b,
                "decode_tokens_per_s": 1.0 / c,
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """What the learner believes now (for traces and logs)."""
        p = self.profile()
        return {
            "observations": self.observations,
            "overhead_s": p.overhead_s,
            "prefill_tokens_per_s": p.prefill_tokens_per_s,
            "decode_tokens_per_s": p.decode_tokens_per_s,
            "expected_output_tokens": self.expected_output_tokens,
        }


def _solve_subset(
    a: list[list[float]], b: list[float], free: tuple[int, ...]
) -> tuple[float, float, float] | None:
    """Minimise ``theta^T a theta - 2 b^T theta`` with the coefficients outside ``free`` at 0."""
    theta = [0.0, 0.0, 0.0]
    if free:
        sub = [[a[i][j] for j in free] for i in free]
        rhs = [b[i] for i in free]
        solution = _gauss(sub, rhs)
        if solution is None:
            return None
        for k, i in enumerate(free):
            theta[i] = solution[k]
    return theta[0], theta[1], theta[2]


def _quadratic_cost(a: list[list[float]], b: list[float], theta: tuple[float, ...]) -> float:
    quad = sum(theta[i] * a[i][j] * theta[j] for i in range(3) for j in range(3))
    return quad - 2 * sum(b[i] * theta[i] for i in range(3))


def _gauss(m: list[list[float]], rhs: list[float]) -> list[float] | None:
    """Solve a small symmetric positive-definite system (``None`` if singular)."""
    n = len(rhs)
    rows = [[*m[i], rhs[i]] for i in range(n)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(rows[r][col]))
        if abs(rows[pivot][col]) < 1e-300:
            return None
        rows[col], rows[pivot] = rows[pivot], rows[col]
        for r in range(n):
            if r != col:
                factor = rows[r][col] / rows[col][col]
                for c in range(col, n + 1):
                    rows[r][c] -= factor * rows[col][c]
    return [rows[i][n] / rows[i][i] for i in range(n)]


def speed_prior_for(model: object) -> SideProfile:
    """A device-appropriate starting profile for an edge model.

    A model that knows its own speed says so with a ``speed_profile()`` method (the bundled
    edge's backends do). Otherwise its ``device`` attribute decides: CUDA gets the small-GPU
    profile, anything else the CPU profile. ``"auto"`` counts as CUDA only when torch is already
    imported and sees a GPU (this function never imports torch).
    """
    import sys

    from langchain_netgpt.routing.latency import CPU_EDGE, DEFAULT_EDGE

    own = getattr(model, "speed_profile", None)
    if callable(own):
        profile = own()
        if isinstance(profile, SideProfile):
            return profile
    device = getattr(model, "device", None)
    if isinstance(device, str):
        if device.startswith("cuda"):
            return DEFAULT_EDGE
        if device == "auto":
            torch = sys.modules.get("torch")
            cuda = getattr(torch, "cuda", None)
            if cuda is not None and cuda.is_available():
                return DEFAULT_EDGE
        return CPU_EDGE
    return DEFAULT_EDGE


class EdgeSpeedTracker:
    """Learns an engine's edge service time and lends it to the policy's latency model.

    The policy the user configured is left as it is: :meth:`policy_for` returns a copy whose
    :class:`~langchain_netgpt.routing.latency.LatencyModel` has ``edge_service_time`` set to the
    tracker's :class:`ServiceTimeLearner` (a policy without a latency model, or whose latency
    model already has a service-time estimate, is used as it is). The learner starts from the
    latency model's ``edge`` profile when the user set one, else from :func:`speed_prior_for` the
    edge model (CPU or CUDA); :meth:`observe` feeds it every edge answer.

    Example:
        .. code-block:: python

            from langchain_core.messages import AIMessage, HumanMessage
            from langchain_netgpt import NetworkState
            from langchain_netgpt.routing import NetGPTPolicy, RequestFeatures
            from langchain_netgpt.routing.service_time import EdgeSpeedTracker

            tracker = EdgeSpeedTracker()
            policy = tracker.policy_for(NetGPTPolicy(), edge_model=None)
            features = RequestFeatures.from_messages([HumanMessage("hi")])
            for _ in range(5):  # the edge really takes 3 s a call
                tracker.observe(features, AIMessage("hello"), elapsed_s=3.0)
            lte = NetworkState(bandwidth_up_mbps=10, bandwidth_down_mbps=40, rtt_ms=50)
            assert 2.0 < policy.latency_model.estimate(features, lte).edge_s < 4.0
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._learner: ServiceTimeLearner | None = None
        self._latency: Any = None
        self._key: tuple[int, int] | None = None
        self._policy: Any = None

    @property
    def learner(self) -> ServiceTimeLearner | None:
        """The learner in use (``None`` until a policy that can use one was seen)."""
        return self._learner

    def policy_for(self, policy: Any, edge_model: Any) -> Any:
        """The policy to decide with: ``policy`` with the learned edge service time lent to it."""
        from langchain_netgpt.routing.latency import LatencyModel

        latency = getattr(policy, "latency_model", None)
        if not isinstance(latency, LatencyModel) or latency.edge_service_time is not None:
            return policy
        copy_policy = getattr(policy, "model_copy", None)
        if not callable(copy_policy):
            return policy
        key = (id(policy), id(edge_model))
        with self._lock:
            if self._key == key and self._policy is not None:
                return self._policy
            learner = self._learner
            if learner is None or self._key is None or self._key[1] != id(edge_model):
                prior = latency.edge if "edge" in latency.model_fields_set else None
                learner = ServiceTimeLearner(
                    prior if prior is not None else speed_prior_for(edge_model),
                    output_tokens_prior=float(latency.expected_output_tokens),
                )
            lent = latency.model_copy(update={"edge_service_time": learner})
            self._policy = copy_policy(update={"latency_model": lent})
            self._learner, self._latency, self._key = learner, lent, key
            return self._policy

    def observe(self, features: Any, message: Any, elapsed_s: float) -> None:
        """Feed one edge answer: its output tokens (usage, else 4 characters a token) and time.

        The prompt side is counted as the latency model counts it when it predicts (the
        features' prefill tokens), so prediction and fit use the same quantity.
        """
        with self._lock:
            learner, latency = self._learner, self._latency
        if learner is None or latency is None or not elapsed_s > 0:
            return
        usage = getattr(message, "usage_metadata", None) or {}
        output = usage.get("output_tokens")
        if not isinstance(output, int) or output < 0:
            text = getattr(message, "text", "") or ""
            calls = getattr(message, "tool_calls", None) or []
            size = len(text) + sum(len(str(c.get("args", ""))) + 16 for c in calls)
            output = max(1, int(size / 4))
        prompt = latency.edge_prefill_tokens(features)
        learner.observe(prompt_tokens=prompt, output_tokens=output, elapsed_s=elapsed_s)
