"""The pipeline benchmark's bare script trains on sealtrain's rows and features, so the comparison is fair."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import KOSTECKI_SPEC

from sealtrain.components.core import schema, splitting
from sealtrain.components.core.constants import GROUP_COLUMN, LABEL_COLUMN
from sealtrain.components.core.preprocessing import fit_preprocessor

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "pipeline_benchmark.py"


@pytest.fixture(scope="module")
def benchmark():
    spec = importlib.util.spec_from_file_location("pipeline_benchmark", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    # Dataclasses look their module up in sys.modules.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def test_bare_script_trains_on_sealtrains_rows_and_features(benchmark, kostecki):
    case = benchmark.Case("small", "unused", KOSTECKI_SPEC.label, KOSTECKI_SPEC.positive_class, KOSTECKI_SPEC.group,
                          KOSTECKI_SPEC.drop)
    bare = benchmark.bare_split(kostecki, case)
    sealtrain = splitting.split_table(schema.prepare(kostecki, KOSTECKI_SPEC, "KosteckiDillon")).tables
    for name, (features, labels, groups) in bare.items():
        table = sealtrain[name]
        assert len(features) == len(table) > 0, name
        # Both keep the input's row order within a split: the same rows, one for one.
        np.testing.assert_array_equal(groups, table[GROUP_COLUMN].to_numpy(), err_msg=name)
        np.testing.assert_array_equal(labels, table[LABEL_COLUMN].to_numpy(), err_msg=name)
        np.testing.assert_array_equal(features["airq"].to_numpy(dtype=float), table["airq"].to_numpy(), err_msg=name)
    fitted = fit_preprocessor(sealtrain["train"], "unused")
    train = bare["train"][0]
    numeric = [c for c in train.columns if pd.api.types.is_numeric_dtype(train[c])]
    # The transformed columns come out in the same order: numeric first, then one-hot.
    assert (numeric, [c for c in train.columns if c not in numeric]) == (fitted.numeric, fitted.categorical)


def test_a_watched_run_sums_looped_stages_and_keeps_its_failure(benchmark, tmp_path):
    script = tmp_path / "run.py"
    script.write_text(
        "import sys, time\n"
        "print('[1/3] tune-hyperparameters: started')\n"
        "print('      tune-hyperparameters: completed (1.5s)')\n"
        "print('      tune-hyperparameters: completed (2.0s)')\n"
        "print('      train-final-model: failed (0.5s)')\n"
        # Long enough for the 0.1 s sampler to see the process.
        "time.sleep(0.5)\n"
        "sys.exit(3)\n")
    ended = []
    run = benchmark.watch([sys.executable, str(script)], on_stage_end=ended.append)
    assert run.exit_status == 3
    assert run.stages == {"tune-hyperparameters": 3.5, "train-final-model": 0.5}
    assert ended == ["tune-hyperparameters", "tune-hyperparameters", "train-final-model"]
    assert run.output[-1] == "      train-final-model: failed (0.5s)\n"
    assert run.first_stage_at is not None and run.last_stage_at <= run.wall_seconds
    assert run.peaks["cli"] > 0 and run.largest_process_mb > 0
