import itertools

from langchain_netgpt.edge.threads import ThreadTuner


def _run(tuner: ThreadTuner, seconds_for: dict[int, float], tokens: int) -> list[int]:
    chosen = []
    for _ in range(tokens):
        threads = tuner.choose()
        tuner.observe(threads, seconds_for[threads])
        chosen.append(threads)
    return chosen


def test_an_idle_machine_keeps_every_core() -> None:
    tuner = ThreadTuner(max_threads=2, probe_every=16)

    chosen = _run(tuner, {2: 0.008, 1: 0.012}, 200)

    assert chosen[0] == 2
    assert chosen.count(2) > 0.9 * len(chosen)
    assert tuner.best() == 2


def test_a_busy_machine_falls_back_to_one_thread_within_a_few_tokens() -> None:
    tuner = ThreadTuner(max_threads=2, probe_every=48)
    _run(tuner, {2: 0.008, 1: 0.012}, 10)  # idle first: two threads, one never tried yet

    chosen = _run(tuner, {2: 0.3, 1: 0.018}, 100)  # the cores get busy

    assert 1 in chosen[:3]
    assert chosen[10:].count(1) > 0.9 * len(chosen[10:])
    assert tuner.best() == 1


def test_it_returns_to_every_core_once_the_machine_is_idle_again() -> None:
    tuner = ThreadTuner(max_threads=2, probe_every=8)
    _run(tuner, {2: 0.3, 1: 0.018}, 40)

    chosen = _run(tuner, {2: 0.008, 1: 0.012}, 80)

    assert chosen[-20:].count(2) >= 17


def test_a_single_core_always_decodes_with_one_thread() -> None:
    tuner = ThreadTuner(max_threads=1)

    assert set(_run(tuner, {1: 0.01}, 20)) == {1}
    assert tuner.options == (1,)


def test_probes_of_the_losing_count_get_rarer_while_they_keep_losing() -> None:
    tuner = ThreadTuner(max_threads=2, probe_every=48)

    chosen = _run(tuner, {2: 0.3, 1: 0.018}, 1500)

    assert chosen[:5] == [2, 2, 2, 2, 1]  # the other count is tried after four tokens
    probes = [i for i, threads in enumerate(chosen) if threads == 2 and i >= 4]
    gaps = [later - earlier for earlier, later in itertools.pairwise(probes)]
    assert gaps == sorted(gaps) and gaps[-1] >= 4 * gaps[0]  # 48, 96, 192, ... apart
