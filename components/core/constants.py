"""Names shared by the component specs, the logic, the verifier and the tests.

A split name is also the name of the split's output on `split_dataset` and the value of the
`role` metadata key on its artifact, so one constant ties the DAG, the runtime guard and the
records together.
"""

TRAIN = "train"
VALIDATION = "validation"
TEST = "test"
HOLDOUT = "holdout"
SPLITS = (TRAIN, VALIDATION, TEST, HOLDOUT)

DEFAULT_RATIOS = {TRAIN: 0.60, VALIDATION: 0.20, TEST: 0.15, HOLDOUT: 0.05}
DEFAULT_TOLERANCE = 0.02
DEFAULT_SPLIT_SALT = "sealtrain"
# Largest share of a test or holdout split whose feature rows re-identify one train patient.
DEFAULT_MAX_DUPLICATE_SHARE = 0.01

# Keys of KFP artifact metadata written by the components and checked by the runtime guard.
META_ROLE = "role"
META_FINGERPRINT = "fingerprint"
META_MANIFEST_FINGERPRINT = "split_manifest_fingerprint"
META_TRAIN_FINGERPRINT = "train_fingerprint"
# What the manifest fingerprint hashes (data fingerprint, salt, each split's content
# fingerprint), carried by every split, preprocessor and model so readers can recompute it.
META_MANIFEST_CORE = "split_manifest_core"
# Numbers in artifact metadata are written as floats: KFP stores them as protobuf doubles,
# and an int that comes back as a float would change the cache key of every downstream step.
META_ROWS = "rows"

# Data-quality report statuses (the design's DQStatus).
QC_PASSED = "PASSED"
QC_WARNING = "WARNING"
QC_FAILED = "FAILED"
QC_STATUSES = (QC_PASSED, QC_WARNING, QC_FAILED)
QC_TRAINABLE = (QC_PASSED, QC_WARNING)

# Metric names, as logged to KFP, MLflow and the run table (`train_auc`, `test_auc`, ...).
AUC = "auc"
PR_AUC = "pr_auc"
PRECISION = "precision"
RECALL = "recall"
F1 = "f1"
ACCURACY = "accuracy"
BRIER = "brier_score"
LOG_LOSS = "log_loss"
CALIBRATION_ERROR = "calibration_error"
BOOTSTRAP_METRICS = (AUC, PR_AUC, BRIER, F1, PRECISION, RECALL)
METRIC_PREFIX = {TRAIN: "train_", VALIDATION: "val_", TEST: "test_", HOLDOUT: "holdout_"}


def metric_name(split: str, metric: str, suffix: str = "") -> str:
    """The logged name of a metric on a split: `train_auc`, `val_pr_auc`, `test_auc_ci_low`, `holdout_auc`."""
    return f"{METRIC_PREFIX[split]}{metric}{'_' + suffix if suffix else ''}"


DEFAULT_N_TRIALS = 50
DEFAULT_BOOTSTRAP_SAMPLES = 1000
DEFAULT_PRECISION_AT_K = (100, 500)
DEFAULT_CALIBRATION_BINS = 10
DEFAULT_ALGORITHM = "xgboost"

# Run statuses in `ml_training_runs`.
RUN_RUNNING = "running"
RUN_COMPLETED = "completed"
RUN_FAILED = "failed"

# Names of the files inside model and report artifacts.
MODEL_FILE_XGBOOST = "model.ubj"
MODEL_FILE_SKLEARN = "model.skops"
MODEL_META_FILE = "model.json"
PREPROCESSOR_FILE = "preprocessor.skops"
PREPROCESSOR_META_FILE = "preprocessor.json"
# The input example (train statistics) in the preprocessor's JSON, read without loading the preprocessor.
PREPROCESSOR_EXAMPLE_KEY = "example"

# Canonical column names inside split artifacts: the label encoded 0/1 and the grouping key.
# They are never features; the user's own names are kept in the split manifest.
LABEL_COLUMN = "__label__"
GROUP_COLUMN = "__group__"
RESERVED_COLUMNS = (LABEL_COLUMN, GROUP_COLUMN)
MAX_CATEGORY_LEVELS = 50

# The run's id reaches evaluate_model, which writes it into the split ledger, through the task's
# environment: as a parameter, a value that changes every run would change the step's cache key.
# `sealtrain run` exports it; on a cluster it comes from the pod's `pipeline/runid` label.
RUN_ID_ENV = "SEALTRAIN_TRAINING_RUN_ID"
