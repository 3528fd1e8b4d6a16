"""The README's first command: the bundled demo with every default, here with two tuning workers.

A module of its own: this one run takes as long as the rest of test_pipeline_local.py, and
modules are what the parallel test workers share out.
"""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.pipeline


def test_fifty_trials_on_two_workers_share_one_pruned_study(tmp_path):
    """The demo data (covid_testing), the default 50 trials, two parallel tuning workers."""
    result = subprocess.run([sys.executable, "-m", "sealtrain.pipelines.cli", "run", "--tuning-workers", "2",
                             "--bootstrap-samples", "100", "--output", str(tmp_path / "out"),
                             "--summary-json", str(tmp_path / "s.json")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr + result.stdout[-2000:]
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["tuning_trials"] == 50
    assert summary["trial_states"]["PRUNED"] > 0 and summary["trial_states"]["COMPLETE"] > 0
    trials = pd.read_csv(summary["artifacts"]["trials"])
    assert "Optimisation history" in Path(summary["artifacts"]["tuning_history"]).read_text()
    assert sorted(trials["worker"].unique()) == [0, 1] and len(trials) == 50
    assert "tuning worker 1: trial 25/25" in result.stdout
