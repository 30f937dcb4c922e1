"""RouteLLM's router families, re-implemented on our embeddings and trained on the train half.

RouteLLM (Ong et al., "RouteLLM: Learning to Route LLMs with Preference Data", arXiv 2406.18665)
scores a query by the strong model's win probability ``P(strong wins | q)`` and sends it to the
strong model above a threshold. Its families, as described in the paper and its code
(github.com/lm-sys/RouteLLM, ``routellm/routers``), rebuilt here from scratch on the same
all-MiniLM-L6-v2 embeddings our text scorer reads, trained on the same train half:

- **similarity-weighted ranking** (``sw-ranking``): a Bradley-Terry fit of the train "battles"
  (cloud wins, edge wins, tie) weighted by ``10 * 10 ** (sim / max_sim)`` (cosine similarity to
  the query), ties counting as one win each, as RouteLLM's ``SWRankingRouter``. With two models
  the weighted fit has a closed form: the weighted win share of the cloud, ties halved.
- **matrix factorisation** (``mf``): ``delta(m, q) = w2 . (normalise(v_m) * (W1^T q))`` and
  ``P(strong wins) = sigmoid(delta(strong, q) - delta(weak, q))``, trained with Adam on the
  decided battles (ties dropped), with RouteLLM's dimension 128, learning rate 3e-4, weight decay
  1e-5, batch 64 and embedding noise 0.1; 300 epochs here (their 100 epochs ran over ~65k Arena
  battles, ours over a few hundred).
- **classifier head** (``classifier-head``): RouteLLM's BERT router is a 3-way classifier (strong
  wins / tie / weak wins) with ``P(strong wins)`` as its score; here a softmax head on the frozen
  MiniLM encoder (fine-tuning the encoder is left out), L2 chosen by cross-validation.
- **random**: a seeded uniform score.

Every peer's :meth:`score` is an edge score, ``1 - P(strong wins)``, so all routers send the
lowest scores to the cloud.

Example:
    .. code-block:: python

        import numpy as np

        from langchain_netgpt.bench.pair_peers import SWRankingPeer

        emb = np.eye(4, dtype=np.float32)
        peer = SWRankingPeer().fit(emb, np.array([1, 0, 1, 0.0]), np.array([1, 1, 0, 1.0]))
        assert peer.score(emb).shape == (4,)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = [
    "ClassifierHeadPeer",
    "MatrixFactorisationPeer",
    "PairPeer",
    "RandomPeer",
    "SWRankingPeer",
    "battle_labels",
]


class PairPeer(Protocol):
    """A router fitted on train embeddings and outcomes; scores are edge scores in [0, 1]."""

    name: str

    def fit(self, embeddings: Any, edge_quality: Any, cloud_quality: Any) -> PairPeer:
        """Fit on the train half."""
        ...

    def score(self, embeddings: Any) -> NDArray[np.float64]:
        """``1 - P(strong wins)`` of each row."""
        ...


def battle_labels(edge_quality: Any, cloud_quality: Any) -> NDArray[np.int64]:
    """0 where the cloud (strong) wins, 1 on a tie, 2 where the edge (weak) wins."""
    import numpy

    e = numpy.asarray(edge_quality, dtype=float)
    c = numpy.asarray(cloud_quality, dtype=float)
    return numpy.where(c > e, 0, numpy.where(e > c, 2, 1)).astype(numpy.int64)


class RandomPeer:
    """A uniform random score, seeded (RouteLLM's random router)."""

    name = "random"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def fit(self, embeddings: Any, edge_quality: Any, cloud_quality: Any) -> RandomPeer:
        """Nothing to learn."""
        return self

    def score(self, embeddings: Any) -> NDArray[np.float64]:
        """One seeded uniform draw per row."""
        import numpy

        return numpy.random.default_rng(self.seed).random(len(embeddings))


class SWRankingPeer:
    """Similarity-weighted Bradley-Terry ranking over the train battles."""

    name = "sw-ranking"

    def __init__(self) -> None:
        self._emb: Any = None
        self._strong: Any = None
        self._tie: Any = None

    def fit(self, embeddings: Any, edge_quality: Any, cloud_quality: Any) -> SWRankingPeer:
        """Keep the train battles and their (unit-normalised) embeddings."""
        import numpy

        emb = numpy.asarray(embeddings, dtype=float)
        norms = numpy.linalg.norm(emb, axis=1, keepdims=True)
        self._emb = emb / numpy.maximum(norms, 1e-12)
        labels = battle_labels(edge_quality, cloud_quality)
        self._strong = (labels == 0).astype(float)
        self._tie = (labels == 1).astype(float)
        return self

    def score(self, embeddings: Any) -> NDArray[np.float64]:
        """``1 - (W_strong + T / 2) / W`` with similarity weights."""
        import numpy

        if self._emb is None:
            raise RuntimeError("fit the peer before scoring")
        q = numpy.asarray(embeddings, dtype=float)
        q = q / numpy.maximum(numpy.linalg.norm(q, axis=1, keepdims=True), 1e-12)
        sims = q @ self._emb.T
        max_sim = numpy.maximum(sims.max(axis=1, keepdims=True), 1e-12)
        weights = 10.0 * 10.0 ** (sims / max_sim)
        strong = (weights @ (self._strong + 0.5 * self._tie)) / weights.sum(axis=1)
        return 1.0 - strong  # type: ignore[no-any-return]


class MatrixFactorisationPeer:
    """RouteLLM's matrix-factorisation router on two models, trained with Adam in numpy.

    Args:
        dim: Latent dimension.
        epochs: Passes over the decided battles.
        lr: Adam learning rate.
        weight_decay: L2 added to the gradient (as torch's Adam ``weight_decay``).
        batch_size: Battles per step.
        noise: Standard deviation of the Gaussian noise added to train embeddings.
        seed: Seeds the initialisation, the shuffles and the noise.
    """

    name = "mf"

    def __init__(
        self,
        *,
        dim: int = 128,
        epochs: int = 300,
        lr: float = 3e-4,
        weight_decay: float = 1e-5,
        batch_size: int = 64,
        noise: float = 0.1,
        seed: int = 0,
    ) -> None:
        self.dim, self.epochs, self.lr = dim, epochs, lr
        self.weight_decay, self.batch_size, self.noise, self.seed = (
            weight_decay,
            batch_size,
            noise,
            seed,
        )
        self._params: dict[str, Any] | None = None

    def fit(
        self, embeddings: Any, edge_quality: Any, cloud_quality: Any
    ) -> MatrixFactorisationPeer:
        """Train on the battles one side won (ties are dropped, as in RouteLLM)."""
        import numpy

        x_all = numpy.asarray(embeddings, dtype=float)
        labels = battle_labels(edge_quality, cloud_quality)
        decided = labels != 1
        x = x_all[decided]
        y = (labels[decided] == 0).astype(float)  # 1: the strong model won
        rng = numpy.random.default_rng(self.seed)
        d = x.shape[1]
        bound = 1.0 / numpy.sqrt(d)
        p = {
            "W1": rng.uniform(-bound, bound, (d, self.dim)),
            "vs": rng.normal(0.0, 1.0, self.dim),
            "vw": rng.normal(0.0, 1.0, self.dim),
            "w2": rng.uniform(-1.0 / numpy.sqrt(self.dim), 1.0 / numpy.sqrt(self.dim), self.dim),
        }
        m = {k: numpy.zeros_like(v) for k, v in p.items()}
        v2 = {k: numpy.zeros_like(v) for k, v in p.items()}
        step = 0
        for _ in range(self.epochs if len(x) else 0):
            order = rng.permutation(len(x))
            for start in range(0, len(x), self.batch_size):
                idx = order[start : start + self.batch_size]
                xb = x[idx] + rng.normal(0.0, self.noise, (len(idx), d))
                grads = self._gradients(p, xb, y[idx])
                step += 1
                for k in p:
                    g = grads[k] + self.weight_decay * p[k]
                    m[k] = 0.9 * m[k] + 0.1 * g
                    v2[k] = 0.999 * v2[k] + 0.001 * g * g
                    m_hat = m[k] / (1 - 0.9**step)
                    v_hat = v2[k] / (1 - 0.999**step)
                    p[k] = p[k] - self.lr * m_hat / (numpy.sqrt(v_hat) + 1e-8)
        self._params = p
        return self

    @staticmethod
    def _gradients(p: dict[str, Any], xb: Any, yb: Any) -> dict[str, Any]:
        import numpy

        ns, nw = numpy.linalg.norm(p["vs"]), numpy.linalg.norm(p["vw"])
        us, uw = p["vs"] / ns, p["vw"] / nw
        a = us - uw
        proj = xb @ p["W1"]  # (b, dim)
        logit = (proj * a) @ p["w2"]
        g = (0.5 * (1.0 + numpy.tanh(0.5 * logit)) - yb) / len(yb)  # dL/dlogit, batch mean
        grad_w2 = (proj * a).T @ g
        grad_proj = numpy.outer(g, p["w2"] * a)
        grad_w1 = xb.T @ grad_proj
        grad_a = (g[:, None] * proj).sum(axis=0) * p["w2"]

        def through_norm(u: Any, n: Any, grad_u: Any) -> Any:
            return (grad_u - u * (u @ grad_u)) / n

        return {
            "W1": grad_w1,
            "w2": grad_w2,
            "vs": through_norm(us, ns, grad_a),
            "vw": through_norm(uw, nw, -grad_a),
        }

    def score(self, embeddings: Any) -> NDArray[np.float64]:
        """``1 - sigmoid(delta(strong, q) - delta(weak, q))``."""
        import numpy

        if self._params is None:
            raise RuntimeError("fit the peer before scoring")
        p = self._params
        a = p["vs"] / numpy.linalg.norm(p["vs"]) - p["vw"] / numpy.linalg.norm(p["vw"])
        logit = ((numpy.asarray(embeddings, dtype=float) @ p["W1"]) * a) @ p["w2"]
        return 1.0 - 0.5 * (1.0 + numpy.tanh(0.5 * logit))  # type: ignore[no-any-return]


class ClassifierHeadPeer:
    """A 3-way softmax head (strong wins / tie / weak wins) on frozen sentence embeddings.

    Args:
        l2_grid: L2 penalties (``1 / C``) chosen from by 5-fold cross-validated log loss.
        folds: Cross-validation folds (row ``i`` in fold ``i % folds``).
    """

    name = "classifier-head"

    def __init__(self, l2_grid: tuple[float, ...] = (1.0, 3.0, 10.0), folds: int = 5) -> None:
        self.l2_grid, self.folds = l2_grid, folds
        self._model: Any = None

    def _new(self, l2: float) -> Any:
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=1.0 / l2, max_iter=5000, tol=1e-6)

    def fit(self, embeddings: Any, edge_quality: Any, cloud_quality: Any) -> ClassifierHeadPeer:
        """Choose L2 by cross-validation, then fit on every train row."""
        import numpy

        x = numpy.asarray(embeddings, dtype=float)
        labels = battle_labels(edge_quality, cloud_quality)
        fold = numpy.arange(len(x)) % self.folds
        best: tuple[float, float] | None = None
        for l2 in self.l2_grid:
            loss = 0.0
            for k in range(self.folds):
                train, held = fold != k, fold == k
                model = self._new(l2).fit(x[train], labels[train])
                proba = model.predict_proba(x[held])
                cols = {c: i for i, c in enumerate(model.classes_)}
                picked = [
                    proba[r, cols[c]] if c in cols else 1e-6 for r, c in enumerate(labels[held])
                ]
                loss -= float(numpy.log(numpy.clip(picked, 1e-6, 1.0)).sum())
            if best is None or loss < best[0] - 1e-12:
                best = (loss, l2)
        assert best is not None
        self._model = self._new(best[1]).fit(x, labels)
        return self

    def score(self, embeddings: Any) -> NDArray[np.float64]:
        """``1 - P(strong wins)``."""
        import numpy

        if self._model is None:
            raise RuntimeError("fit the peer before scoring")
        proba = self._model.predict_proba(numpy.asarray(embeddings, dtype=float))
        classes = list(self._model.classes_)
        strong = proba[:, classes.index(0)] if 0 in classes else numpy.zeros(len(proba))
        return 1.0 - strong
