"""Runs the training pipeline under kfp.local; the CLI starts it as a child process.

A child keeps kfp.local's verbose task logs off the user's terminal: the parent saves them
to a log file and shows one line per stage.

Usage: python -m sealtrain.pipelines.local_runner CONFIG.json
CONFIG holds `pipeline_root`, `enable_caching`, `arguments` and `result_path`; on success
the outputs' local paths and metadata are written to `result_path` as JSON.
"""

import json
import sys
import warnings
from pathlib import Path


def main(config_path: str) -> int:
    """Runs the pipeline described by a config file; returns the process exit code."""
    from kfp import local

    from sealtrain.pipelines.training_pipeline import training_pipeline

    config = json.loads(Path(config_path).read_text())
    # SubprocessRunner runs each component in this interpreter rather than its image; that is the point.
    warnings.filterwarnings("ignore", message="You may be attemping to run a task that uses custom")
    local.init(
        runner=local.SubprocessRunner(use_venv=False),
        pipeline_root=config["pipeline_root"],
        enable_caching=config["enable_caching"],
        raise_on_error=True,
    )
    try:
        task = training_pipeline(**config["arguments"])
    except RuntimeError as exc:
        print(f"PIPELINE FAILED: {exc}", flush=True)
        return 1
    outputs = {name: {"path": a.path, "metadata": a.metadata} for name, a in task.outputs.items()}
    Path(config["result_path"]).write_text(json.dumps(outputs))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
