"""The skill model: fitted from single-choice answers with different category lists, weights,
matrices cut per task, gold accuracy with a Wilson interval, and a JSON round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

from taskforce.quality import dawid_skene as ds
from taskforce.quality import simulation as sim
from taskforce.quality.skills import ChoiceAnswer, SkillModel, wilson

CATS = ("cat", "dog", "bird", "fish")


def _history(seed: int = 1, n_tasks: int = 600, gold_share: float = 0.1):
    """A crowd answering tasks whose category lists are all four labels or only the first two."""
    rng = np.random.default_rng(seed)
    crowd = sim.make_crowd(rng, n_tasks=n_tasks, n_workers=12, n_spammers=2)
    tasks, workers = sim.assign(rng, crowd.n_tasks, crowd.n_workers, 3)
    labels = crowd.answer(rng, tasks, workers)
    is_gold = rng.random(crowd.n_tasks) < gold_share
    rows = []
    for t, w, label in zip(tasks.tolist(), workers.tolist(), labels.tolist(), strict=True):
        rows.append(ChoiceAnswer(task=f"t{t}", worker_id=1000 + w, label=CATS[label], options=CATS,
                                 gold=CATS[crowd.truth[t]] if is_gold[t] else None))
    return crowd, rows


def test_a_fit_ranks_workers_by_their_true_accuracy():
    crowd, rows = _history()
    model = SkillModel()
    result = model.fit_choices("categorization", rows)
    assert len(result) == crowd.n_tasks
    predicted = np.array([CATS.index(result[f"t{t}"][0]) for t in range(crowd.n_tasks)])
    assert sim.accuracy(predicted, crowd.truth) > 0.85
    weights = np.array([model.weight(1000 + w, "categorization") for w in range(crowd.n_workers)])
    # The best honest worker outweighs the worst; spammers (the last two) weigh least.
    assert weights[11] > weights[0] > max(weights[12], weights[13])
    assert max(weights[12], weights[13]) < 0.3
    assert np.corrcoef(weights[:12], crowd.accuracy[:12])[0, 1] > 0.8


def test_unknown_workers_weigh_one_and_get_the_prior_matrix():
    model = SkillModel()
    assert model.weight(7, "categorization") == 1.0 and model.weight(None, "categorization") == 1.0
    assert not model.has_history(7, "categorization")
    matrix = model.matrix(7, "categorization", ["a", "b", "c"])
    assert np.allclose(matrix.sum(axis=0), 1.0)
    assert np.allclose(np.diag(matrix), ds.PRIOR_ACCURACY)
    assert np.allclose(model.prior("categorization", ["a", "b", "c"]), 1 / 3)


def test_matrices_generalise_to_a_task_with_other_categories():
    crowd, rows = _history()
    model = SkillModel()
    model.fit_choices("categorization", rows)
    best, spammer = 1011, 1012
    # A two-label task cut out of the four-label history.
    two = model.matrix(best, "categorization", ["dog", "cat"])
    assert two.shape == (2, 2) and np.allclose(two.sum(axis=0), 1.0) and two[0, 0] > 0.85
    # Labels never seen: the worker's one-coin accuracy, still high for the best, low for a spammer.
    new = model.matrix(best, "categorization", ["red", "green", "blue"])
    assert np.diag(new).min() > 0.75 and np.allclose(new.sum(axis=0), 1.0)
    assert np.diag(model.matrix(spammer, "categorization", ["red", "green", "blue"])).max() < 0.5


def test_a_fit_over_tasks_with_different_category_lists_keeps_each_task_in_its_own():
    rows = [ChoiceAnswer("a", 1, "yes", ("yes", "no")), ChoiceAnswer("a", 2, "yes", ("yes", "no")),
            ChoiceAnswer("b", 1, "red", ("red", "blue", "green")), ChoiceAnswer("b", 2, "blue", ("red", "blue", "green"))]
    result = SkillModel().fit_choices("categorization", rows)
    assert result["a"][0] == "yes" and result["b"][0] in ("red", "blue")


def test_gold_accuracy_and_its_wilson_interval():
    crowd, rows = _history(gold_share=0.3)
    model = SkillModel()
    model.fit_choices("categorization", rows)
    share, low, high = model.gold_accuracy(1011, "categorization")
    assert share is not None and low <= share <= high and low > 0.6
    assert model.gold_accuracy(99, "categorization") == (None, 0.0, 1.0)


def test_wilson_matches_the_textbook_figures():
    low, high = wilson(8, 10)
    assert (round(low, 4), round(high, 4)) == (0.4902, 0.9433)
    assert wilson(0, 0) == (0.0, 1.0)
    low, high = wilson(0, 5)
    assert low == 0.0 and 0.4 < high < 0.45


def test_record_teaches_text_types_without_a_fit():
    model = SkillModel()
    for _ in range(20):
        model.record("transcription", 5, 1.0, gold_correct=True)
        model.record("transcription", 6, 0.0)
    model.record("transcription", None, 1.0)  # the simulated worker: ignored
    assert model.weight(5, "transcription") > 2 > 1 > model.weight(6, "transcription") == 0.0
    assert model.gold_accuracy(5, "transcription")[0] == 1.0


def test_json_round_trip_keeps_everything():
    crowd, rows = _history()
    model = SkillModel()
    model.fit_choices("categorization", rows)
    model.record("transcription", 3, 0.5)
    back = SkillModel.from_dict(json.loads(json.dumps(model.to_dict())))
    for worker_id in (1000, 1005, 1013, 3):
        for task_type in ("categorization", "transcription"):
            assert back.weight(worker_id, task_type) == pytest.approx(model.weight(worker_id, task_type))
    assert np.allclose(back.matrix(1004, "categorization", list(CATS)),
                       model.matrix(1004, "categorization", list(CATS)), atol=1e-4)
    assert np.allclose(back.prior("categorization", list(CATS)), model.prior("categorization", list(CATS)))


def test_many_labels_fall_back_to_one_coin_accuracies():
    labels = tuple(f"l{i}" for i in range(40))
    rows = [ChoiceAnswer(t, w, labels[t % 40] if w != 3 else labels[(t + 1) % 40], labels)
            for t in range(80) for w in (1, 2, 3)]
    rows += [ChoiceAnswer("g", 1, "l1", labels, gold="l7"), ChoiceAnswer("g", 3, "l1", labels, gold="l7")]
    model = SkillModel()
    result = model.fit_choices("categorization", rows)
    assert model.weight(1, "categorization") > 1 > model.weight(3, "categorization")
    assert model.skill(1, "categorization").confusion == {}
    assert result[0] == ("l0", 2 / 3) and result["g"] == ("l7", 1.0)
    assert model.gold_accuracy(1, "categorization")[0] == 0.0


def test_the_hot_path_posterior_is_the_numpy_one():
    from taskforce.quality.combiners import posterior

    crowd, rows = _history()
    model = SkillModel()
    model.fit_choices("categorization", rows)
    labels = ["dog", "cat", "fish"]
    answers = [(1011, 0), (1003, 1), (1012, 0), (77, 2)]  # known, known, spammer, stranger
    rows_ = [model.likelihood(w, "categorization", labels, a) for w, a in answers]
    for (w, a), row in zip(answers, rows_, strict=True):
        assert np.allclose(row, model.matrix(w, "categorization", labels)[a])
    expected = ds.posterior([a for _, a in answers], [model.matrix(w, "categorization", labels) for w, _ in answers],
                            np.array(model.prior("categorization", labels)))
    assert np.allclose(posterior(rows_, model.prior("categorization", labels)), expected)
