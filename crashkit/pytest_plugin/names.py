"""The plugin's command-line options and ini keys, by name (one place for both)."""

from __future__ import annotations

RESULTS = "--crashkit-results"
REPORT = "--crashkit-report"
FAULTS = "--crashkit-faults"
SAMPLE = "--crashkit-sample"
SEED = "--crashkit-seed"
SHARD = "--crashkit-shard"
TIMEOUT = "--crashkit-timeout"
MAX_ROUNDS = "--crashkit-max-rounds"
LAUNCHER = "--crashkit-launcher"
ARTIFACTS = "--crashkit-artifacts"
EXAMPLES = "--crashkit-examples"
BUDGET = "--crashkit-budget"
