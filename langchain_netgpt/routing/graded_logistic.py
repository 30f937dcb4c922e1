"""Logistic regression on graded labels: the fitting core of the text-aware scorer.

A label is a quality in ``[0, 1]``; the L2 penalty is chosen by out-of-fold log loss
(:class:`~langchain_netgpt.routing.text_scorer.TextScorer` fits with it). scikit-learn (extra
``bench``) is imported when a :class:`GradedLogistic` is made.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["GradedLogistic"]


class GradedLogistic:
    """Logistic regression on graded labels, its L2 penalty chosen by out-of-fold log loss.

    A label ``y`` counts as a good row of weight ``y`` plus a bad row of weight ``1 - y``.

    Example:
        .. code-block:: python

            import numpy

            from langchain_netgpt.routing.graded_logistic import GradedLogistic

            design = numpy.array([[0.0], [1.0], [0.1], [0.9]] * 5)
            labels = numpy.array([0.0, 1.0, 0.2, 0.8] * 5)
            l2, out_of_fold = GradedLogistic().choose_l2(design, labels, [0.1, 1.0], folds=2)
            assert l2 in (0.1, 1.0) and out_of_fold.shape == (20,)

    Raises:
        ImportError: scikit-learn (extra ``bench``) is missing.
    """

    def __init__(self) -> None:
        try:
            from sklearn.linear_model import LogisticRegression
        except ImportError as exc:
            raise ImportError(
                "fitting a TextScorer needs scikit-learn: pip install 'langchain-netgpt[bench]'"
            ) from exc
        self.estimator = LogisticRegression

    def rows(self, design: Any, labels: Any, index: Any, l2: float) -> Any:
        """The model fitted on the rows ``index`` with penalty ``l2``."""
        import numpy

        rows = numpy.concatenate([design[index], design[index]])
        target = numpy.concatenate([numpy.ones(len(index)), numpy.zeros(len(index))])
        weight = numpy.concatenate([labels[index], 1.0 - labels[index]])
        keep = weight > 0
        model = self.estimator(C=1.0 / l2, max_iter=5000, tol=1e-6)
        model.fit(rows[keep], target[keep], sample_weight=weight[keep])
        return model

    def choose_l2(
        self, design: Any, y: Any, l2_grid: Sequence[float], folds: int
    ) -> tuple[float, Any]:
        """The penalty with the lowest out-of-fold log loss, and its out-of-fold predictions.

        Row ``i`` is in fold ``i % folds``.
        """
        import numpy

        n = len(y)
        fold_of = numpy.arange(n) % folds
        best: tuple[float, float, Any] | None = None
        for l2 in l2_grid:
            oof = numpy.zeros(n)
            for k in range(folds):
                model = self.rows(design, y, numpy.flatnonzero(fold_of != k), l2)
                oof[fold_of == k] = model.predict_proba(design[fold_of == k])[:, 1]
            p = numpy.clip(oof, 1e-6, 1 - 1e-6)
            loss = float(-numpy.mean(y * numpy.log(p) + (1 - y) * numpy.log(1 - p)))
            if best is None or loss < best[0] - 1e-12:
                best = (loss, l2, oof)
        assert best is not None
        return best[1], best[2]
