"""Benchmark statistics: seed 003's "Benchmarking" example as tests, checked against numpy."""
import json
import math

import pytest

from ringkernel import RingKernelError
from ringkernel.benchmark import (BenchmarkBaseline, BenchmarkConfig, BenchmarkResult, BenchmarkSuite,
                                  ConfidenceInterval, DetailedStatistics, PyBenchmarkConfig, PyDetailedStatistics,
                                  ScalingMetrics, ScalingQuality)

VALUES = [0.48, 0.52, 0.49, 0.51, 0.50]


def test_config_presets_and_builder():
    assert (BenchmarkConfig.quick().warmup_iterations, BenchmarkConfig.quick().measurement_iterations) == (1, 3)
    assert BenchmarkConfig.comprehensive().measurement_iterations == 10
    assert BenchmarkConfig.ci().warmup_iterations == 2
    c = BenchmarkConfig(warmup_iterations=5, measurement_iterations=10, regression_threshold=0.10)
    assert c.regression_threshold == 0.10
    c = (PyBenchmarkConfig.quick().with_warmup(3).with_measurements(10).with_sizes([1000, 10000, 100000])
         .with_regression_threshold(0.15).with_timeout_secs(30.0))
    assert (c.warmup_iterations, c.measurement_iterations, c.sizes, c.regression_threshold, c.timeout_secs) == (
        3, 10, [1000, 10000, 100000], 0.15, 30.0)
    with pytest.raises(RingKernelError):
        BenchmarkConfig().with_measurements(0)


def test_results():
    result = BenchmarkResult(workload_id="matrix_multiply", size=1000, total_time_secs=0.5)
    assert result.throughput_ops == pytest.approx(2000.0)
    assert result.throughput_mops() == pytest.approx(0.002)
    assert result.total_time_ms() == pytest.approx(500.0)
    result = BenchmarkResult.from_measurements(workload_id="matrix_multiply", size=1000,
                                               measurement_times_secs=VALUES, iterations=100, converged=True)
    tp = [1000 / v for v in VALUES]
    mean = sum(tp) / len(tp)
    assert result.throughput_stddev() == pytest.approx(math.sqrt(sum((x - mean) ** 2 for x in tp) / 4))
    assert result.iterations == 100 and result.converged is True
    result = result.with_metric("memory_mb", 256.5)
    assert result.custom_metrics() == {"memory_mb": 256.5}
    with pytest.raises(RingKernelError):
        BenchmarkResult(workload_id="w", size=1, total_time_secs=0.0)
    with pytest.raises(RingKernelError):
        BenchmarkResult.from_measurements(workload_id="w", size=1, measurement_times_secs=[])


def test_suite_reports_baseline_and_regressions(tmp_path):
    suite = BenchmarkSuite(BenchmarkConfig.quick())
    suite.add_result(BenchmarkResult.from_measurements("matrix_multiply", 1000, VALUES))
    md = suite.generate_markdown_report()
    assert "matrix_multiply" in md and "|" in md
    js = json.loads(suite.generate_json_export())
    assert "matrix_multiply" in json.dumps(js)
    assert "tabular" in suite.generate_latex_table()
    baseline = suite.create_baseline("v1.0.0")
    assert baseline.version == "v1.0.0" and len(baseline) == 1
    path = str(tmp_path / "base.json")
    baseline.save(path)
    assert BenchmarkBaseline.load(path) == baseline
    with pytest.raises(RingKernelError):
        BenchmarkBaseline.from_json("{not json")

    slower = BenchmarkSuite(BenchmarkConfig.quick())
    slower.add_result(BenchmarkResult.from_measurements("matrix_multiply", 1000, [v * 1.5 for v in VALUES]))
    assert slower.compare_to_baseline() is None
    slower.set_baseline(baseline)
    report = slower.compare_to_baseline()
    assert report.regression_count == 1 and report.improvement_count == 0 and report.unchanged_count == 0
    assert report.has_regressions()
    worst = report.worst_regression()
    assert worst.workload_id == "matrix_multiply" and worst.relative_change == pytest.approx(1 / 1.5 - 1)
    assert report.best_improvement() is None
    assert "1" in report.summary()


def test_suite_run_times_python_callable():
    suite = BenchmarkSuite(BenchmarkConfig.quick())
    calls = []
    r = suite.run("noop", 10, lambda: calls.append(1))
    assert len(calls) == 1 + 3 and len(r.measurement_times_secs) == 3


def test_statistics_match_numpy():
    np = pytest.importorskip("numpy")
    stats = PyDetailedStatistics.from_values(VALUES)
    assert stats.mean == pytest.approx(np.mean(VALUES))
    assert stats.std_dev == pytest.approx(np.std(VALUES, ddof=1))
    assert stats.median == pytest.approx(np.median(VALUES))
    assert stats.p95 == pytest.approx(np.percentile(VALUES, 95))
    assert stats.iqr() == pytest.approx(np.percentile(VALUES, 75) - np.percentile(VALUES, 25))
    assert stats.coefficient_of_variation() == pytest.approx(np.std(VALUES, ddof=1) / np.mean(VALUES))
    with pytest.raises(RingKernelError):
        DetailedStatistics.from_values([])
    with pytest.raises(RingKernelError):
        DetailedStatistics.from_values([1.0, float("inf")])


def test_confidence_interval():
    ci = ConfidenceInterval.from_values(VALUES)
    half = 2.7764451051977987 * (0.015811388300841896 / math.sqrt(5))  # t(0.975, 4) * s / sqrt(n)
    assert ci.lower == pytest.approx(0.5 - half) and ci.upper == pytest.approx(0.5 + half)
    assert ci.width() == pytest.approx(2 * half)
    with pytest.raises(RingKernelError):
        ConfidenceInterval.from_values([1.0])


def test_scaling_metrics():
    scaling = ScalingMetrics.from_sizes_and_throughputs(sizes=[1000, 10000, 100000], throughputs=[1e6, 8e6, 50e6])
    np = pytest.importorskip("numpy")
    slope, _ = np.polyfit(np.log([1000, 10000, 100000]), np.log([1e6, 8e6, 50e6]), 1)
    assert scaling.exponent == pytest.approx(slope)
    assert 0.99 < scaling.r_squared <= 1.0
    assert scaling.scaling_quality() == ScalingQuality.Good
    with pytest.raises(RingKernelError):
        ScalingMetrics.from_sizes_and_throughputs(sizes=[1, 2], throughputs=[1.0])
