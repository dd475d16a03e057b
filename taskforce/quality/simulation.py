"""A simulated crowd, for the tests and ``bench/bench_quality.py``: tasks with a true class,
workers who are right with their own accuracy (and otherwise pick a wrong class uniformly), and
spammers who pick any class uniformly."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Crowd:
    truth: np.ndarray        # (T,) true class per task
    accuracy: np.ndarray     # (W,) each worker's accuracy; spammers have 1/K
    n_classes: int

    @property
    def n_tasks(self) -> int:
        return int(self.truth.size)

    @property
    def n_workers(self) -> int:
        return int(self.accuracy.size)

    def answer(self, rng: np.random.Generator, tasks: np.ndarray, workers: np.ndarray) -> np.ndarray:
        """Labels for the (task, worker) pairs given."""
        truth = self.truth[tasks]
        right = rng.random(tasks.size) < self.accuracy[workers]
        # A wrong answer is one of the K-1 other classes, uniformly.
        wrong = (truth + rng.integers(1, self.n_classes, tasks.size)) % self.n_classes
        return np.where(right, truth, wrong)


def make_crowd(rng: np.random.Generator, *, n_tasks: int = 2000, n_classes: int = 4,
               n_workers: int = 40, n_spammers: int = 4, low: float = 0.55,
               high: float = 0.95) -> Crowd:
    """The issue's crowd: accuracies spread evenly over [low, high], plus uniform spammers."""
    accuracy = np.concatenate([np.linspace(low, high, n_workers),
                               np.full(n_spammers, 1.0 / n_classes)])
    return Crowd(truth=rng.integers(0, n_classes, n_tasks), accuracy=accuracy,
                 n_classes=n_classes)


def assign(rng: np.random.Generator, n_tasks: int, n_workers: int, overlap: int) -> tuple[np.ndarray, np.ndarray]:
    """``overlap`` distinct random workers per task: (tasks, workers) arrays."""
    workers = np.argsort(rng.random((n_tasks, n_workers)), axis=1)[:, :overlap]
    return np.repeat(np.arange(n_tasks), overlap), workers.reshape(-1)


def accuracy(predicted: np.ndarray, truth: np.ndarray, exclude: np.ndarray | None = None) -> float:
    """Share of tasks predicted right; ``exclude`` (booleans) leaves gold tasks out."""
    keep = np.ones(truth.size, bool) if exclude is None else ~exclude
    return float((predicted[keep] == truth[keep]).mean())
