# SPDX-License-Identifier: Apache-2.0
"""The benchmark harness behind bench/run: one module per section (see docs/benchmarks.md)."""
