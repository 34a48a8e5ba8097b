"""The benchmark's DAG generator and schedule bounds (pure functions, no timing)."""

from __future__ import annotations

from benchmarks.executor._dag import Dag, DagShape, LatencyModel, schedule_violations, simulate_list_schedule

DIAMOND = Dag(((), (0,), (0,), (1, 2)))  # 0 -> {1, 2} -> 3


def test_same_seed_gives_the_same_dag_and_latencies() -> None:
    shape = DagShape(300, window=40, seed=7)
    assert Dag.generate(shape) == Dag.generate(shape)
    assert LatencyModel(seed=7).sample(300) == LatencyModel(seed=7).sample(300)
    assert Dag.generate(shape) != Dag.generate(DagShape(300, window=40, seed=8))


def test_generated_dag_is_topological_with_bounded_fan_in_inside_the_window() -> None:
    shape = DagShape(2_000, window=50, max_parents=3)
    dag = Dag.generate(shape)
    for i, parents in enumerate(dag.deps):
        assert len(parents) <= 3
        assert len(set(parents)) == len(parents)
        assert all(i - shape.window <= p < i for p in parents)
    assert sum(len(level) for level in dag.levels) == len(dag)
    assert dag.stats()["levels"] > 1
    assert dag.stats()["max_level_width"] > 1


def test_plan_lists_every_dependency_by_sortable_id() -> None:
    plan = DIAMOND.to_plan("work", [{"ms": 1.0}] * 4, max_concurrency=2)
    assert plan["max_concurrency"] == 2
    assert plan["tasks"]["t3"] == {
        "tool_name": "work",
        "parameters": {"ms": 1.0},
        "dependencies": ["t1", "t2"],
    }
    assert list(Dag.generate(DagShape(12)).ids) == sorted(Dag.generate(DagShape(12)).ids)


def test_critical_path_and_list_schedule_bounds() -> None:
    latency = [1.0, 5.0, 2.0, 1.0]
    assert DIAMOND.critical_path_ms(latency) == 7.0
    assert DIAMOND.remaining_hops == (3, 2, 2, 1)
    assert simulate_list_schedule(DIAMOND, latency, None) == 7.0
    assert simulate_list_schedule(DIAMOND, latency, 1) == sum(latency)
    assert simulate_list_schedule(DIAMOND, latency, 2) == 7.0


def test_schedule_violations_count_early_starts_and_peak_concurrency() -> None:
    good = [(0.0, 1.0), (1.0, 6.0), (1.0, 3.0), (6.0, 7.0)]
    assert schedule_violations(DIAMOND, good, 2) == {
        "started_before_dependency_finished": 0,
        "peak_concurrency": 2,
        "over_limit": 0,
    }
    early = [(0.0, 1.0), (0.5, 6.0), (1.0, 3.0), (6.0, 7.0)]
    result = schedule_violations(DIAMOND, early, 1)
    assert result["started_before_dependency_finished"] == 1
    assert result["over_limit"] == 1
