"""Our vectorised Dawid-Skene against crowd-kit's ``DawidSkene`` on the same answers, and the
one-task posterior against the full fit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from crowdkit.aggregation import DawidSkene

from taskforce.quality import dawid_skene as ds
from taskforce.quality import simulation as sim


def _answers(seed: int, overlap: int, n_tasks: int = 400, gold_share: float = 0.0):
    rng = np.random.default_rng(seed)
    crowd = sim.make_crowd(rng, n_tasks=n_tasks, n_workers=20, n_spammers=3)
    tasks, workers = sim.assign(rng, crowd.n_tasks, crowd.n_workers, overlap)
    labels = crowd.answer(rng, tasks, workers)
    gold = np.full(crowd.n_tasks, -1)
    is_gold = rng.random(crowd.n_tasks) < gold_share
    gold[is_gold] = crowd.truth[is_gold]
    return crowd, tasks, workers, labels, gold


def _crowdkit(tasks, workers, labels, gold, n_iter):
    data = pd.DataFrame({"task": tasks, "worker": workers, "label": labels})
    true_labels = None
    if (gold >= 0).any():
        rows = np.flatnonzero(gold >= 0)
        true_labels = pd.Series(gold[rows], index=rows)
    # tol=-inf: exactly n_iter rounds, as ours with tol=0.
    model = DawidSkene(n_iter=n_iter, tol=-np.inf).fit(data, true_labels)
    probas = model.probas_.sort_index()
    return probas.reindex(columns=range(4), fill_value=0.0).to_numpy(), model


pytestmark = pytest.mark.filterwarnings("ignore:The (inplace|copy) keyword")  # crowd-kit on pandas 3


@pytest.mark.parametrize(("seed", "overlap", "gold_share", "n_iter"),
                         [(1, 3, 0.0, 1), (1, 3, 0.0, 25), (2, 5, 0.0, 25), (3, 3, 0.1, 25)])
def test_unsmoothed_fit_is_crowdkits(seed, overlap, gold_share, n_iter):
    """Round for round the same EM: the same posteriors, error matrices and priors."""
    crowd, tasks, workers, labels, gold = _answers(seed, overlap, gold_share=gold_share)
    ours = ds.fit(tasks, workers, labels, n_classes=4, gold=gold, prior_strength=0, max_iter=n_iter, tol=0)
    assert ours.iterations == n_iter
    theirs, model = _crowdkit(tasks, workers, labels, gold, n_iter)
    assert np.allclose(ours.posteriors, theirs, atol=1e-6)
    assert (ours.labels == theirs.argmax(axis=1)).all()
    # Their error matrices are indexed (worker, answered) with a column per true label: ours too.
    errors = model.errors_.reindex(columns=range(4), fill_value=0.0)
    for w in range(crowd.n_workers):
        theirs_w = errors.loc[w].reindex(index=range(4), fill_value=0.0).to_numpy()
        assert np.allclose(ours.confusion[w], theirs_w, atol=1e-6)
    assert np.allclose(ours.priors, model.priors_.sort_index().to_numpy(), atol=1e-6)


def test_converged_fits_agree_with_crowdkit_on_labels():
    crowd, tasks, workers, labels, gold = _answers(6, 5)
    ours = ds.fit(tasks, workers, labels, n_classes=4, prior_strength=0, max_iter=300, tol=1e-7)
    data = pd.DataFrame({"task": tasks, "worker": workers, "label": labels})
    theirs = DawidSkene(n_iter=300).fit_predict(data).sort_index().to_numpy()
    assert (ours.labels == theirs).mean() >= 0.99


def test_gold_tasks_are_clamped_to_their_label():
    crowd, tasks, workers, labels, gold = _answers(4, 3, gold_share=0.2)
    fit = ds.fit(tasks, workers, labels, n_classes=4, gold=gold)
    rows = np.flatnonzero(gold >= 0)
    assert np.array_equal(fit.labels[rows], gold[rows])
    assert np.allclose(fit.posteriors[rows].max(axis=1), 1.0)


def test_smoothing_keeps_a_worker_with_one_answer_near_the_prior():
    # Worker 0 answers many tasks; worker 1 answers once.
    tasks = np.array([0, 1, 2, 3, 0])
    workers = np.array([0, 0, 0, 0, 1])
    labels = np.array([0, 1, 2, 0, 0])
    fit = ds.fit(tasks, workers, labels, n_classes=3)
    one = fit.confusion[1]
    assert np.allclose(one.sum(axis=0), 1.0)
    # Column 0 moved towards answering 0, but no entry is 0 or 1, and the other columns are the prior.
    assert 0.7 < one[0, 0] < 0.95 and one.min() > 0.02
    prior = ds.pseudo_counts(3) / ds.pseudo_counts(3).sum(axis=0)
    assert np.allclose(one[:, 1], prior[:, 1], atol=0.05)
    # Unsmoothed, the same worker's column would be certain.
    raw = ds.fit(tasks, workers, labels, n_classes=3, prior_strength=0).confusion[1]
    assert raw[0, 0] > 0.999


def test_allowed_classes_get_all_the_posterior():
    tasks = np.array([0, 0, 1, 1])
    workers = np.array([0, 1, 0, 1])
    labels = np.array([0, 0, 2, 3])
    allowed = np.array([[True, True, False, False], [False, False, True, True]])
    fit = ds.fit(tasks, workers, labels, n_classes=4, allowed=allowed)
    assert np.allclose(fit.posteriors[0, 2:], 0.0) and np.allclose(fit.posteriors[1, :2], 0.0)
    assert np.allclose(fit.posteriors.sum(axis=1), 1.0)


def test_one_task_posterior_is_the_fits_e_step():
    crowd, tasks, workers, labels, gold = _answers(5, 3)
    fit = ds.fit(tasks, workers, labels, n_classes=4, max_iter=300, tol=1e-10)
    for t in (0, 17, 123):
        mine = tasks == t
        post = ds.posterior(labels[mine].tolist(), [fit.confusion[w] for w in workers[mine]], fit.priors)
        assert np.allclose(post, fit.posteriors[t], atol=1e-6)


def test_posterior_of_agreeing_good_workers_is_confident_and_of_a_split_is_not():
    good = np.full((3, 3), 0.05) + np.eye(3) * 0.85
    uniform = np.full(3, 1 / 3)
    assert ds.posterior([1, 1, 1], [good] * 3, uniform)[1] > 0.999
    split = ds.posterior([0, 1], [good] * 2, uniform)
    assert split[0] == pytest.approx(split[1]) and split[0] < 0.5


def test_majority_proba_splits_ties_and_leaves_unanswered_tasks_uniform():
    proba = ds.majority_proba(np.array([0, 0, 0, 0]), np.array([1, 1, 2, 2]), 2, 3)
    assert proba.tolist() == [[0.0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]]


def test_bad_arrays_are_refused():
    with pytest.raises(ValueError, match="same length"):
        ds.fit([0, 1], [0], [0, 1], n_classes=2)
    with pytest.raises(ValueError, match="0..n_classes-1"):
        ds.fit([0], [0], [2], n_classes=2)


def test_empty_input_fits_nothing():
    fit = ds.fit([], [], [], n_classes=3)
    assert fit.posteriors.shape == (0, 3) and fit.confusion.shape == (0, 3, 3)


def test_history_counts_carry_a_worker_into_a_new_fit():
    # Worker 0 has a long record of confusing class 0 with class 1; today they answer alone.
    history = np.zeros((1, 2, 2))
    history[0] = [[5.0, 0.0], [50.0, 50.0]]  # [answered, true]: says 1 for half of the true 0s
    fit = ds.fit([0, 1], [0, 0], [1, 1], n_classes=2, history=history)
    assert fit.confusion[0][1, 0] > 0.7  # P(answers 1 | truth 0) stays high
    plain = ds.fit([0, 1], [0, 0], [1, 1], n_classes=2)
    assert plain.confusion[0][1, 0] < fit.confusion[0][1, 0]
