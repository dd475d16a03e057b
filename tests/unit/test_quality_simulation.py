"""The issue's simulation, smaller: ours at least majority vote's accuracy and within a point of
crowd-kit's on the same answers; dynamic overlap as accurate as fixed overlap 5 with fewer
answers. (bench/bench_quality.py runs the full size.)"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from crowdkit.aggregation import DawidSkene

from taskforce.quality import dawid_skene as ds
from taskforce.quality import simulation as sim
from taskforce.quality.combiners import combine_categorization
from taskforce.quality.overlap import Next, next_step
from taskforce.quality.skills import ChoiceAnswer, SkillModel
from taskforce.task_types.answers import Answer

CATS = ("a", "b", "c", "d")


@pytest.mark.parametrize(("overlap", "gold_share"), [(3, 0.0), (3, 0.1), (5, 0.0), (5, 0.1)])
def test_ours_beats_majority_and_matches_crowdkit(overlap, gold_share):
    rng = np.random.default_rng(overlap * 10 + int(gold_share * 10))
    crowd = sim.make_crowd(rng, n_tasks=1000)
    tasks, workers = sim.assign(rng, crowd.n_tasks, crowd.n_workers, overlap)
    labels = crowd.answer(rng, tasks, workers)
    gold = np.full(crowd.n_tasks, -1)
    is_gold = rng.random(crowd.n_tasks) < gold_share
    gold[is_gold] = crowd.truth[is_gold]

    votes = ds.majority_proba(tasks, labels, crowd.n_tasks, 4)
    majority = (votes + rng.random(votes.shape) * 1e-9).argmax(axis=1)  # ties at random
    ours = ds.fit(tasks, workers, labels, n_classes=4, gold=gold).labels
    data = pd.DataFrame({"task": tasks, "worker": workers, "label": labels})
    true_labels = pd.Series(gold[is_gold], index=np.flatnonzero(is_gold)) if is_gold.any() else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = DawidSkene(n_iter=100).fit_predict(data, true_labels).sort_index().to_numpy()

    acc = {name: sim.accuracy(pred, crowd.truth, is_gold)
           for name, pred in (("majority", majority), ("ours", ours), ("crowdkit", theirs))}
    assert acc["ours"] >= acc["majority"], acc
    assert acc["ours"] >= acc["crowdkit"] - 0.01, acc


def test_dynamic_overlap_reaches_fixed_overlap_fives_accuracy_with_fewer_answers():
    rng = np.random.default_rng(11)
    crowd = sim.make_crowd(rng, n_tasks=800)
    # History: 1,500 earlier tasks at overlap 3, 10% gold, fitted as the background job would.
    h_tasks, h_workers = sim.assign(rng, 1500, crowd.n_workers, 3)
    h_truth = rng.integers(0, 4, 1500)
    h_labels = sim.Crowd(h_truth, crowd.accuracy, 4).answer(rng, h_tasks, h_workers)
    h_gold = rng.random(1500) < 0.1
    model = SkillModel()
    model.fit_choices("categorization", [
        ChoiceAnswer(t, w, CATS[lab], CATS, CATS[h_truth[t]] if h_gold[t] else None)
        for t, w, lab in zip(h_tasks.tolist(), h_workers.tolist(), h_labels.tolist(), strict=True)])

    params = {"categories": list(CATS)}
    order = np.argsort(rng.random((crowd.n_tasks, crowd.n_workers)), axis=1)[:, :5]
    answered = crowd.answer(rng, np.repeat(np.arange(crowd.n_tasks), 5), order.reshape(-1)).reshape(-1, 5)

    def combined(t, k):
        return combine_categorization(params, [
            Answer(worker_id=int(order[t, i]), response={"category": CATS[answered[t, i]]}) for i in range(k)], model)

    fixed5 = np.mean([combined(t, 5).response["category"] == CATS[crowd.truth[t]] for t in range(crowd.n_tasks)])
    fixed3 = np.mean([combined(t, 3).response["category"] == CATS[crowd.truth[t]] for t in range(crowd.n_tasks)])
    right = used = 0
    for t in range(crowd.n_tasks):
        k = 3
        while (step := next_step(k, result := combined(t, k), overlap=3, max_overlap=5,
                                 min_confidence=0.95)) is Next.MORE:
            k += 1
        assert step in (Next.FINAL, Next.REVIEW)
        used += k
        right += result.response["category"] == CATS[crowd.truth[t]]
    assert fixed5 > fixed3 + 0.03  # the extra answers matter here
    assert right / crowd.n_tasks >= fixed5 - 0.01
    assert used / crowd.n_tasks < 4.2
