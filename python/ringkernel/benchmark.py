"""Benchmark statistics, reports, baselines and regression checks (ringkernel.hpp section 15).

``DetailedStatistics.from_values`` (sample std dev, numpy-style percentiles),
``ConfidenceInterval.from_values`` (Student t), ``ScalingMetrics.from_sizes_and_throughputs``
(log-log least squares with R^2), ``BenchmarkResult`` / ``BenchmarkSuite`` with Markdown, JSON and
LaTeX reports, ``BenchmarkBaseline`` files and ``RegressionReport``. The ``Py``-prefixed names
(``PyDetailedStatistics``, ...) are aliases kept for code written against the seed's API.
Value types, not thread-safe (use one per thread).
"""
from ._core.benchmark import (  # noqa: F401
    BaselineEntry,
    BenchmarkBaseline,
    BenchmarkConfig,
    BenchmarkResult,
    BenchmarkSuite,
    ChangeKind,
    ConfidenceInterval,
    DetailedStatistics,
    PyBenchmarkBaseline,
    PyBenchmarkConfig,
    PyBenchmarkResult,
    PyBenchmarkSuite,
    PyConfidenceInterval,
    PyDetailedStatistics,
    PyRegressionReport,
    PyScalingMetrics,
    RegressionEntry,
    RegressionReport,
    ScalingMetrics,
    ScalingQuality,
    percentile,
    t_critical,
)
