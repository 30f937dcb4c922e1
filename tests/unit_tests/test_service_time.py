import random
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.messages import HumanMessage

from langchain_netgpt.routing.features import RequestFeatures
from langchain_netgpt.routing.latency import CPU_EDGE, DEFAULT_EDGE, LatencyModel, SideProfile
from langchain_netgpt.routing.network import NetworkState
from langchain_netgpt.routing.service_time import ServiceTimeLearner, speed_prior_for

LINK = NetworkState(bandwidth_up_mbps=20, bandwidth_down_mbps=50, rtt_ms=40)


def _true_time(profile: tuple[float, float, float], prompt: int, output: int) -> float:
    overhead, prefill, decode = profile
    return overhead + prompt / prefill + output / decode


# (overhead s, prefill tok/s, decode tok/s): a transformers CPU edge, llama.cpp on CPU, a small
# GPU, a very slow device, a CPU with a slow prefill.
EDGES = [(0.3, 300, 12), (0.05, 1500, 150), (0.02, 8000, 120), (2.0, 100, 5), (0.05, 400, 8)]


@pytest.mark.parametrize("truth", EDGES)
@pytest.mark.parametrize("prior", [DEFAULT_EDGE, CPU_EDGE], ids=["gpu-prior", "cpu-prior"])
def test_predictions_are_within_30_percent_after_five_calls(truth, prior):
    rng = random.Random(7)
    learner = ServiceTimeLearner(prior)
    errors = []
    for _ in range(20):
        prompt, output = rng.randint(200, 2000), rng.randint(15, 90)
        elapsed = _true_time(truth, prompt, output) * rng.uniform(0.9, 1.1)
        predicted = learner.predict_s(prompt_tokens=prompt, output_tokens=output)
        errors.append(abs(predicted - elapsed) / elapsed)
        learner.observe(prompt_tokens=prompt, output_tokens=output, elapsed_s=elapsed)
    assert max(errors[5:]) < 0.3


def test_one_call_moves_a_gpu_prior_to_a_cpu_edge():
    learner = ServiceTimeLearner(DEFAULT_EDGE)
    learner.observe(prompt_tokens=600, output_tokens=40, elapsed_s=30.0)
    assert learner.predict_s(prompt_tokens=600, output_tokens=40) == pytest.approx(30.0, rel=0.2)


def test_calls_of_different_shapes_separate_prefill_from_decode():
    truth = (0.1, 500.0, 10.0)
    learner = ServiceTimeLearner(DEFAULT_EDGE)
    for prompt, output in [(200, 10), (2000, 10), (200, 100), (2000, 100)] * 5:
        elapsed = _true_time(truth, prompt, output)
        learner.observe(prompt_tokens=prompt, output_tokens=output, elapsed_s=elapsed)
    profile = learner.profile()
    assert profile.prefill_tokens_per_s == pytest.approx(500, rel=0.1)
    assert profile.decode_tokens_per_s == pytest.approx(10, rel=0.1)


def test_the_learner_tracks_a_machine_that_slows_down():
    learner = ServiceTimeLearner(CPU_EDGE, half_life_calls=5)
    for _ in range(30):
        learner.observe(prompt_tokens=500, output_tokens=40, elapsed_s=2.0)
    for _ in range(15):
        learner.observe(prompt_tokens=500, output_tokens=40, elapsed_s=8.0)
    assert learner.predict_s(prompt_tokens=500, output_tokens=40) == pytest.approx(8.0, rel=0.2)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 20000), st.integers(0, 2000), st.floats(1e-4, 1e4, allow_nan=False)
        ),
        min_size=1,
        max_size=40,
    )
)
def test_learned_rates_stay_positive_and_finite_whatever_is_observed(calls):
    learner = ServiceTimeLearner(DEFAULT_EDGE)
    for prompt, output, elapsed in calls:
        learner.observe(prompt_tokens=prompt, output_tokens=output, elapsed_s=elapsed)
    profile = learner.profile()  # a SideProfile validates gt=0 / ge=0 and finiteness itself
    assert profile.overhead_s >= 0
    assert learner.predict_s(prompt_tokens=100, output_tokens=10) >= 0


def test_the_expected_output_tokens_follow_what_the_side_writes():
    learner = ServiceTimeLearner(DEFAULT_EDGE, output_tokens_prior=48)
    for _ in range(20):
        learner.observe(prompt_tokens=300, output_tokens=12, elapsed_s=1.0)
    assert learner.expected_output_tokens == pytest.approx(12, abs=0.5)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"prompt_tokens": -1, "output_tokens": 1, "elapsed_s": 1.0}, "token counts"),
        ({"prompt_tokens": 1, "output_tokens": 1, "elapsed_s": 0.0}, "elapsed_s"),
        ({"prompt_tokens": 1, "output_tokens": 1, "elapsed_s": float("nan")}, "elapsed_s"),
        ({"prompt_tokens": 1, "output_tokens": 1, "elapsed_s": float("inf")}, "elapsed_s"),
    ],
)
def test_a_bad_observation_is_refused_by_name(kwargs, name):
    learner = ServiceTimeLearner(DEFAULT_EDGE)
    with pytest.raises(ValueError, match=name):
        learner.observe(**kwargs)
    assert learner.observations == 0


@pytest.mark.parametrize(
    "kwargs",
    [{"prior_spread": 0}, {"noise_share": -1}, {"window": 2}, {"output_tokens_weight": 0}],
)
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        ServiceTimeLearner(DEFAULT_EDGE, **kwargs)


def test_concurrent_observations_are_all_counted():
    learner = ServiceTimeLearner(DEFAULT_EDGE)

    def observe() -> None:
        for _ in range(50):
            learner.observe(prompt_tokens=300, output_tokens=20, elapsed_s=1.5)

    threads = [threading.Thread(target=observe) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert learner.observations == 200


def test_the_latency_model_uses_the_learned_edge_once_it_has_seen_a_call():
    features = RequestFeatures.from_messages([HumanMessage("What's the weather in Lisbon?")])
    learner = ServiceTimeLearner(DEFAULT_EDGE)
    model = LatencyModel(edge=DEFAULT_EDGE, edge_service_time=learner)
    prior_s = model.estimate(features, LINK).edge_s
    assert prior_s == pytest.approx(LatencyModel(edge=DEFAULT_EDGE).estimate(features, LINK).edge_s)
    for _ in range(5):
        learner.observe(prompt_tokens=features.prompt_tokens, output_tokens=30, elapsed_s=20.0)
    assert model.estimate(features, LINK).edge_s == pytest.approx(20.0, rel=0.1)
    assert model.expected_server_s(features, side="edge") == pytest.approx(20.0, rel=0.1)


def test_the_learned_edge_is_not_serialised_with_the_latency_model():
    model = LatencyModel(edge_service_time=ServiceTimeLearner(DEFAULT_EDGE))
    assert "edge_service_time" not in model.model_dump()


class _CudaModel:
    device = "cuda:0"


class _CpuModel:
    device = "cpu"


class _SelfTimedModel:
    def speed_profile(self) -> SideProfile:
        return SideProfile(overhead_s=0.01, prefill_tokens_per_s=900, decode_tokens_per_s=140)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (_CudaModel(), DEFAULT_EDGE),
        (_CpuModel(), CPU_EDGE),
        (_SelfTimedModel(), _SelfTimedModel().speed_profile()),
        (object(), DEFAULT_EDGE),
    ],
)
def test_the_prior_fits_the_device_the_edge_runs_on(model, expected):
    assert speed_prior_for(model) == expected
