from __future__ import annotations

import numpy as np

from langchain_netgpt.bench.pair_peers import (
    ClassifierHeadPeer,
    MatrixFactorisationPeer,
    RandomPeer,
    SWRankingPeer,
    battle_labels,
)


def _toy(n: int = 120) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two clusters: in the first the cloud wins, in the second the edge is as good (tie)."""
    rng = np.random.default_rng(0)
    hard = rng.normal(0, 0.05, (n // 2, 8)) + np.eye(8)[0]
    easy = rng.normal(0, 0.05, (n // 2, 8)) + np.eye(8)[1]
    emb = np.vstack([hard, easy])
    edge = np.concatenate([np.zeros(n // 2), np.ones(n // 2)])
    cloud = np.ones(n)
    return emb, edge, cloud


def test_battle_labels_read_strong_win_tie_weak_win() -> None:
    assert battle_labels([0, 1, 1], [1, 1, 0]).tolist() == [0, 1, 2]


def test_every_peer_sends_the_cluster_where_the_cloud_wins_to_the_cloud_first() -> None:
    emb, edge, cloud = _toy()
    hard_query, easy_query = np.eye(8)[[0]], np.eye(8)[[1]]
    for peer in (
        SWRankingPeer(),
        MatrixFactorisationPeer(epochs=200, lr=3e-3),
        ClassifierHeadPeer(),
    ):
        peer.fit(emb, edge, cloud)
        assert peer.score(hard_query)[0] < peer.score(easy_query)[0], peer.name


def test_peer_scores_are_edge_scores_in_the_unit_interval() -> None:
    emb, edge, cloud = _toy()
    for peer in (SWRankingPeer(), ClassifierHeadPeer(), RandomPeer(seed=3)):
        scores = peer.fit(emb, edge, cloud).score(emb)
        assert scores.shape == (len(emb),) and np.all((scores >= 0) & (scores <= 1))


def test_the_random_peer_is_seeded() -> None:
    emb = np.zeros((5, 2))
    assert RandomPeer(seed=1).score(emb).tolist() == RandomPeer(seed=1).score(emb).tolist()
