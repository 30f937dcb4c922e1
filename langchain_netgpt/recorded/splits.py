"""Seeded, category-stratified train/test splits shared by the benchmarks and the training code.

Example:
    .. code-block:: python

        from langchain_netgpt.recorded.splits import split_by_category

        rows = [("a1", "a"), ("a2", "a"), ("b1", "b"), ("b2", "b")]
        train, test = split_by_category(
            rows, id_of=lambda r: r[0], category_of=lambda r: r[1], test_fraction=0.5, seed=0
        )
        assert len(train) == len(test) == 2
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable, Sequence
from typing import TypeVar

__all__ = ["split_by_category", "stable_seed"]

_T = TypeVar("_T")


def stable_seed(*parts: object) -> int:
    """A 32-bit seed derived from ``parts`` (stable across processes, unlike ``hash``)."""
    return zlib.crc32(":".join(str(p) for p in parts).encode())


def split_by_category(
    items: Sequence[_T],
    *,
    id_of: Callable[[_T], str],
    category_of: Callable[[_T], str],
    test_fraction: float,
    seed: int,
) -> tuple[list[_T], list[_T]]:
    """Split by id into (train, test), stratified by category, seeded.

    Items are ordered by id, then each category (in name order) is shuffled with its own
    generator, seeded by ``(seed, "split", category)``, and its first ``round(n * test_fraction)``
    items (at least one, and at least one left to train when the category has two or more) go
    to the test split. The same ids and categories always give the same split, whatever the
    items are (BFCL replay tasks, pair-outcome rows).
    """
    by_category: dict[str, list[_T]] = {}
    for item in sorted(items, key=id_of):
        by_category.setdefault(category_of(item), []).append(item)
    train: list[_T] = []
    test: list[_T] = []
    for category in sorted(by_category):
        members = by_category[category]
        random.Random(stable_seed(seed, "split", category)).shuffle(members)
        n_test = max(1, round(len(members) * test_fraction))
        if len(members) >= 2:
            n_test = min(n_test, len(members) - 1)
        test.extend(members[:n_test])
        train.extend(members[n_test:])
    return train, test
