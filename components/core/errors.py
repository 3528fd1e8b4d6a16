"""The error hierarchy of the design; every refusal of sealtrain is one of these."""


class ModelTrainerError(Exception):
    """Base error for sealtrain's training contract."""


class InvalidInputError(ModelTrainerError):
    """The data, a column or a parameter cannot be used; the message names which."""


class QCGateBlockedError(ModelTrainerError):
    """Training blocked because the data-quality report says FAILED."""


class SplitRatioViolationError(ModelTrainerError):
    """A split's share of rows is outside the tolerance around its expected ratio."""


class DataLeakageError(ModelTrainerError):
    """A group (patient) or a role-checked artifact crosses the split boundary."""


class TrainingFailedError(ModelTrainerError):
    """Model training failed."""


class HyperparameterTuningError(ModelTrainerError):
    """The search space is malformed or the Optuna study produced no usable trial."""


class UntrustedModelFileError(ModelTrainerError):
    """A model file holds something sealtrain never writes; it is refused without being built."""


class TestEvaluationLimitError(ModelTrainerError):
    """The experiment's test split has been evaluated by as many models as `--max-test-evaluations` allows."""

    __test__ = False  # not a pytest test class despite the name


class HoldoutAccessError(ModelTrainerError):
    """The holdout may not be read: the model is not in production, was validated already, or the data changed."""
