"""Runs the training pipeline under kfp.local; the CLI starts it as a child process.

A child keeps kfp.local's verbose task logs off the user's terminal: the parent saves them
to a log file and shows one line per stage.

Usage: python -m sealtrain.pipelines.local_runner CONFIG.json
CONFIG holds `pipeline_root`, `enable_caching`, `arguments` and `result_path`; on success
the run record written by `record_run` (the URI of every artifact of the run) is copied to
`result_path`.
"""

import json
import shutil
import sys
import warnings
from pathlib import Path

RECORD_TASK = "record-run"
RECORD_OUTPUT = "run_record"


def main(config_path: str) -> int:
    """Runs the pipeline described by a config file; returns the process exit code."""
    from kfp import local

    from sealtrain.pipelines.training_pipeline import PIPELINE_NAME, training_pipeline

    config = json.loads(Path(config_path).read_text())
    root = Path(config["pipeline_root"])
    root.mkdir(parents=True, exist_ok=True)
    before = set(root.iterdir())
    # SubprocessRunner runs each component in this interpreter rather than its image; that is the point.
    warnings.filterwarnings("ignore", message="You may be attemping to run a task that uses custom")
    local.init(
        runner=local.SubprocessRunner(use_venv=False),
        pipeline_root=str(root),
        enable_caching=config["enable_caching"],
        raise_on_error=True,
    )
    try:
        training_pipeline(**config["arguments"])
    except RuntimeError as exc:
        print(f"PIPELINE FAILED: {exc}", flush=True)
        return 1
    # kfp.local gives this run a fresh directory; cached steps keep pointing at older ones,
    # but the uncached record step always writes here and names every artifact's URI.
    (run_dir,) = [d for d in root.iterdir() if d not in before and d.name.startswith(f"{PIPELINE_NAME}-")]
    shutil.copyfile(run_dir / RECORD_TASK / RECORD_OUTPUT, config["result_path"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
