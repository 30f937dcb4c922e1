"""How many CPU threads llama.cpp should decode with, chosen from measured token times.

llama.cpp splits every matrix product of a token across its threads and waits for all of them at
each of the few hundred barriers a token takes. On an idle CPU two threads decode a small model
~1.4x faster than one; when other processes hold the cores, a descheduled thread stalls every
barrier and two threads can be 20x *slower* than one (measured: 3 against 57 tokens/s for the
bundled model on a busy 2-core machine). :class:`ThreadTuner` times each decoded token, keeps an
average per thread count, decodes with the faster one, and re-tries the other now and then, so
the edge follows the machine's load within a generation.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class ThreadTuner:
    """Pick between one thread and ``max_threads`` from exponentially averaged token times.

    Attributes:
        max_threads: The most threads to use (the cores this process may run on).
        probe_every: Tokens between two tries of the thread count not in use.
        smoothing: Weight of a newest token time above the average (one below it weighs 0.7).

    Example:
        .. code-block:: python

            tuner = ThreadTuner(max_threads=2)
            threads = tuner.choose()          # 2 first, then whichever is faster
            tuner.observe(threads, seconds=0.3)  # a token took 0.3 s with 2 threads
    """

    max_threads: int
    probe_every: int = 48
    smoothing: float = 0.3
    max_probe_every: int = 1536
    _average: dict[int, float] = field(default_factory=dict)
    _tokens: int = 0
    _interval: int = 0
    _probing: int | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def options(self) -> tuple[int, ...]:
        """The thread counts tried (one, and ``max_threads`` when it is more)."""
        return (1,) if self.max_threads <= 1 else (self.max_threads, 1)

    def choose(self) -> int:
        """The thread count for the next token."""
        with self._lock:
            self._tokens += 1
            interval = self._interval or self.probe_every
            untried = [n for n in self.options if n not in self._average]
            if untried:
                # Start with the most threads and try the other count after a few tokens: on a
                # busy machine every token with the wrong count can cost a second.
                first = untried[0]
                if first == self.options[0] or self._tokens >= min(interval, 4):
                    return self._start(first)
                return self.options[0]
            best = min(self.options, key=lambda n: self._average[n])
            if len(self.options) > 1 and self._tokens >= interval:
                return self._start(next(n for n in self.options if n != best))
            return best

    def _start(self, threads: int) -> int:
        self._tokens = 0
        self._probing = threads
        return threads

    def best(self) -> int:
        """The thread count with the lowest average so far (``max_threads`` before any)."""
        with self._lock:
            known = [n for n in self.options if n in self._average]
            return min(known, key=lambda n: self._average[n]) if known else self.options[0]

    def observe(self, threads: int, seconds: float) -> None:
        """Record that one token took ``seconds`` with ``threads`` threads."""
        with self._lock:
            if self._probing == threads:
                # A probe that still loses makes the next one wait twice as long (a probe on a
                # busy machine costs a slow token); one that wins resets the wait.
                self._probing = None
                others = [v for n, v in self._average.items() if n != threads]
                interval = self._interval or self.probe_every
                lost = bool(others) and seconds > min(others)
                self._interval = min(2 * interval, self.max_probe_every) if lost else 0
            previous = self._average.get(threads)
            # Slowness comes from other processes and passes: a faster token weighs more.
            weight = self.smoothing if previous is None or seconds > previous else 0.7
            self._average[threads] = (
                seconds if previous is None else (1 - weight) * previous + weight * seconds
            )
            # Before the other count was ever tried, a token 4x slower than usual means the
            # cores got busy: try it at the next token rather than at the next probe.
            untried = any(n not in self._average for n in self.options)
            if untried and previous is not None and seconds > 4 * previous:
                self._tokens = self._interval or self.probe_every
