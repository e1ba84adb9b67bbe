"""What one event costs: round trips, throughput, CPU and cold start, each next to its floor.

Run `.venv/bin/python -m benchmarks.run` (add `--quick` for a short run); see docs/benchmark.md.
"""
