"""Answer quality: accuracy of combining on a simulated crowd, and what combining costs.

    .venv/bin/python bench/bench_quality.py [--seeds 5] [--quick]

1. Accuracy. 2,000 tasks of 4 classes; 40 workers with accuracies spread evenly over 0.55–0.95
   plus 4 uniform-random spammers; overlap 3 and 5, with and without 10% gold. Majority vote,
   ours (taskforce.quality.dawid_skene.fit) and crowd-kit's DawidSkene on the same answers;
   accuracy on the non-gold tasks, mean over seeds.
2. Dynamic overlap. The same crowd's history (2,000 tasks at overlap 3, 10% gold) fits a
   SkillModel; then 2,000 new tasks are answered one worker at a time through the categorization
   combine hook and overlap.next_step (overlap 3, max_overlap 5, min_confidence): answers per
   task and accuracy, against fixed overlap 3 and 5 combined by the same hook.
3. Cost. A SkillModel holding 10,000 workers' history; p50/p99 of combine + quality object +
   next_step for one task of 5 answers. And the background re-fit of 100,000 answers
   (SkillModel.fit_choices, rows in, model out).

Writes bench/results/quality.json. No database, no server: pure computation, one core.
crowd-kit comes from requirements-dev.txt.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from taskforce.quality import dawid_skene as ds  # noqa: E402
from taskforce.quality import simulation as sim  # noqa: E402
from taskforce.quality.combiners import combine_categorization, quality_object  # noqa: E402
from taskforce.quality.overlap import Next, next_step  # noqa: E402
from taskforce.quality.skills import ChoiceAnswer, SkillModel  # noqa: E402
from taskforce.task_types.answers import Answer  # noqa: E402

RESULTS = Path(__file__).parent / "results"
CATS = ("a", "b", "c", "d")


def crowdkit_labels(tasks, workers, labels, gold) -> np.ndarray:
    import pandas as pd
    from crowdkit.aggregation import DawidSkene

    data = pd.DataFrame({"task": tasks, "worker": workers, "label": labels})
    true_labels = None
    if (gold >= 0).any():
        rows = np.flatnonzero(gold >= 0)
        true_labels = pd.Series(gold[rows], index=rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # crowd-kit 1.4.2's pandas idioms on pandas 3
        return DawidSkene(n_iter=100).fit_predict(data, true_labels).sort_index().to_numpy()


def accuracy_table(seeds: int, n_tasks: int) -> list[dict]:
    out = []
    for overlap in (3, 5):
        for gold_share in (0.0, 0.1):
            runs = []
            for seed in range(seeds):
                rng = np.random.default_rng(1000 * overlap + seed)
                crowd = sim.make_crowd(rng, n_tasks=n_tasks)
                tasks, workers = sim.assign(rng, crowd.n_tasks, crowd.n_workers, overlap)
                labels = crowd.answer(rng, tasks, workers)
                gold = np.full(crowd.n_tasks, -1)
                is_gold = rng.random(crowd.n_tasks) < gold_share
                gold[is_gold] = crowd.truth[is_gold]
                mv = ds.majority_proba(tasks, labels, crowd.n_tasks, 4)
                # Majority vote breaks ties at random, as crowd-kit's MajorityVote does in effect.
                mv_labels = (mv + rng.random(mv.shape) * 1e-9).argmax(axis=1)
                started = time.perf_counter()
                ours = ds.fit(tasks, workers, labels, n_classes=4, gold=gold)
                ours_s = time.perf_counter() - started
                started = time.perf_counter()
                theirs = crowdkit_labels(tasks, workers, labels, gold)
                theirs_s = time.perf_counter() - started
                runs.append([sim.accuracy(mv_labels, crowd.truth, is_gold),
                             sim.accuracy(ours.labels, crowd.truth, is_gold),
                             sim.accuracy(theirs, crowd.truth, is_gold), ours_s, theirs_s])
            runs_a = np.array(runs)
            row = {
                "setting": f"overlap {overlap}, {'10% gold' if gold_share else 'no gold'}",
                "answers_per_task": overlap,
                "majority": runs_a[:, 0].mean(), "ours": runs_a[:, 1].mean(), "crowdkit": runs_a[:, 2].mean(),
                "ours_minus_majority_min": (runs_a[:, 1] - runs_a[:, 0]).min(),
                "ours_minus_crowdkit_min": (runs_a[:, 1] - runs_a[:, 2]).min(),
                "fit_seconds_ours": runs_a[:, 3].mean(), "fit_seconds_crowdkit": runs_a[:, 4].mean(),
                "seeds": seeds,
            }
            out.append(row)
            print(f"  {row['setting']:<24} MV {row['majority']:.4f}  ours {row['ours']:.4f}  "
                  f"crowd-kit {row['crowdkit']:.4f}  (ours−MV min {row['ours_minus_majority_min']:+.4f}, "
                  f"ours−crowd-kit min {row['ours_minus_crowdkit_min']:+.4f}; fit {row['fit_seconds_ours']*1000:.0f} ms "
                  f"vs {row['fit_seconds_crowdkit']*1000:.0f} ms)", flush=True)
    return out


def _history_model(rng, crowd, n_tasks: int) -> SkillModel:
    tasks, workers = sim.assign(rng, n_tasks, crowd.n_workers, 3)
    truth = rng.integers(0, 4, n_tasks)
    history = sim.Crowd(truth=truth, accuracy=crowd.accuracy, n_classes=4)
    labels = history.answer(rng, tasks, workers)
    is_gold = rng.random(n_tasks) < 0.1
    rows = [ChoiceAnswer(("h", t), w, CATS[lab], CATS, CATS[truth[t]] if is_gold[t] else None)
            for t, w, lab in zip(tasks.tolist(), workers.tolist(), labels.tolist(), strict=True)]
    model = SkillModel()
    model.fit_choices("categorization", rows)
    return model


def dynamic_overlap(seeds: int, n_tasks: int, min_confidences: list[float]) -> list[dict]:
    params = {"categories": list(CATS)}
    results: dict[str, list[list[float]]] = {}
    for seed in range(seeds):
        rng = np.random.default_rng(7000 + seed)
        crowd = sim.make_crowd(rng, n_tasks=n_tasks)
        model = _history_model(rng, crowd, n_tasks)
        # Each new task gets a random order of 5 distinct workers; fixed overlap k takes the
        # first k, dynamic overlap takes as many as it asks for. Same answers throughout.
        order = np.argsort(rng.random((n_tasks, crowd.n_workers)), axis=1)[:, :5]
        answered = crowd.answer(rng, np.repeat(np.arange(n_tasks), 5), order.reshape(-1)).reshape(n_tasks, 5)

        def answers(t, k):
            return [Answer(worker_id=int(order[t, i]), response={"category": CATS[answered[t, i]]}) for i in range(k)]

        for k in (3, 5):
            right = sum(combine_categorization(params, answers(t, k), model).response["category"]
                        == CATS[crowd.truth[t]] for t in range(n_tasks))
            results.setdefault(f"fixed {k}", []).append([right / n_tasks, k, 0])
        for floor in min_confidences:
            right = used = review = 0
            for t in range(n_tasks):
                k = 3
                while True:
                    combined = combine_categorization(params, answers(t, k), model)
                    step = next_step(k, combined, overlap=3, max_overlap=5, min_confidence=floor)
                    if step is not Next.MORE:
                        break
                    k += 1
                used += k
                review += step is Next.REVIEW
                right += combined.response["category"] == CATS[crowd.truth[t]]
            results.setdefault(f"dynamic 3–5, min_confidence {floor}", []).append(
                [right / n_tasks, used / n_tasks, review / n_tasks])
    out = []
    for setting, runs in results.items():
        a = np.array(runs)
        row = {"setting": setting, "accuracy": a[:, 0].mean(), "answers_per_task": a[:, 1].mean(),
               "review_share": a[:, 2].mean(), "seeds": seeds}
        out.append(row)
        print(f"  {setting:<36} accuracy {row['accuracy']:.4f}  answers/task {row['answers_per_task']:.2f}  "
              f"to review {row['review_share']:.1%}", flush=True)
    return out


def cost(n_workers: int, n_answers: int, samples: int) -> dict:
    rng = np.random.default_rng(42)
    crowd = sim.make_crowd(rng, n_tasks=n_answers // 5, n_workers=n_workers - 200, n_spammers=200)
    tasks, workers = sim.assign(rng, crowd.n_tasks, crowd.n_workers, 5)
    labels = crowd.answer(rng, tasks, workers)
    is_gold = rng.random(crowd.n_tasks) < 0.1
    truth = crowd.truth
    rows = [ChoiceAnswer(t, w, CATS[lab], CATS, CATS[truth[t]] if is_gold[t] else None)
            for t, w, lab in zip(tasks.tolist(), workers.tolist(), labels.tolist(), strict=True)]
    model = SkillModel()
    started = time.perf_counter()
    model.fit_choices("categorization", rows)
    refit_s = time.perf_counter() - started
    started = time.perf_counter()
    fit = ds.fit(tasks, workers, labels, n_classes=4, n_workers=crowd.n_workers)
    em_only_s = time.perf_counter() - started
    with_history = sum(1 for w in range(crowd.n_workers) if model.has_history(w, "categorization"))
    stored = json.dumps(model.to_dict())
    started = time.perf_counter()
    SkillModel.from_dict(json.loads(stored))
    load_s = time.perf_counter() - started

    params = {"categories": list(CATS)}
    wall, cpu = [], []
    for _ in range(samples):
        chosen = rng.choice(crowd.n_workers, 5, replace=False)
        answers = [Answer(worker_id=int(w), response={"category": CATS[rng.integers(4)]}) for w in chosen]
        started, started_cpu = time.perf_counter(), time.thread_time()
        combined = combine_categorization(params, answers, model)
        quality_object(combined, answers)
        next_step(5, combined, overlap=3, max_overlap=5, min_confidence=0.95)
        # Wall time includes being descheduled on a loaded machine; thread CPU time does not.
        cpu.append(time.thread_time() - started_cpu)
        wall.append(time.perf_counter() - started)
    ms, cpu_ms = np.array(wall) * 1000, np.array(cpu) * 1000
    row = {"workers_with_history": with_history, "refit_answers": n_answers, "refit_seconds": refit_s,
           "refit_em_iterations": fit.iterations, "em_only_seconds": em_only_s,
           "combine_ms_p50": float(np.percentile(ms, 50)), "combine_ms_p99": float(np.percentile(ms, 99)),
           "combine_ms_max": float(ms.max()), "combine_cpu_ms_p50": float(np.percentile(cpu_ms, 50)),
           "combine_cpu_ms_p99": float(np.percentile(cpu_ms, 99)), "samples": samples,
           "model_json_bytes": len(stored), "model_load_seconds": load_s}
    print(f"  combine one task of 5 answers, {with_history:,} workers' history ({samples:,} tasks): "
          f"wall p50 {row['combine_ms_p50']:.3f} ms, p99 {row['combine_ms_p99']:.3f} ms (max {row['combine_ms_max']:.2f}); "
          f"CPU p50 {row['combine_cpu_ms_p50']:.3f} ms, p99 {row['combine_cpu_ms_p99']:.3f} ms")
    print(f"  re-fit of {n_answers:,} answers (rows → SkillModel): {refit_s:.2f} s "
          f"(the EM alone {em_only_s:.2f} s, {fit.iterations} rounds)")
    print(f"  the model as JSON: {len(stored)/1e6:.1f} MB, loaded in {load_s:.2f} s")
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="small sizes, for checking the script")
    parser.add_argument("--min-confidence", default="0.9,0.95,0.99")
    args = parser.parse_args()
    seeds = 1 if args.quick else args.seeds
    n_tasks = 400 if args.quick else 2000
    floors = [float(x) for x in args.min_confidence.split(",")]
    started = time.time()
    load_at_start = os.getloadavg()
    print(f"load average {load_at_start[0]:.1f}")
    print("1. accuracy on the same answers (non-gold tasks), mean of", seeds, "seeds")
    table = accuracy_table(seeds, n_tasks)
    print("2. dynamic overlap, skills from a 2,000-task history")
    dynamic = dynamic_overlap(seeds, n_tasks, floors)
    print("3. cost")
    costs = cost(1000 if args.quick else 10_000, 10_000 if args.quick else 100_000, 1000 if args.quick else 10_000)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / ("quality-quick.json" if args.quick else "quality.json")
    out.write_text(json.dumps({"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
                               "load_average_at_start": load_at_start, "load_average_at_end": os.getloadavg(),
                               "seconds": round(time.time() - started, 1), "accuracy": table,
                               "dynamic_overlap": dynamic, "cost": costs}, indent=2) + "\n")
    print(f"written to {out.relative_to(Path.cwd()) if out.is_relative_to(Path.cwd()) else out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
