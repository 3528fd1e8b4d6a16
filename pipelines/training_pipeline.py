"""The training pipeline: every split flows only to the tasks the contract allows.

    start_run (the holdout lock's fingerprint) -> load_dataset -> check_data_quality -> qc_gate -> split_dataset
    split_dataset.train      -> fit_preprocessor, tune_hyperparameters, train_model
    split_dataset.validation -> tune_hyperparameters, train_model
    split_dataset.test       -> evaluate_model
    split_dataset.holdout    -> (nothing)
    split_dataset.test_fingerprint -> recall_best_config (test budget, before tuning)
    split_dataset.group_splits     -> record_run (grows the holdout lock)
    ... -> evaluate_model -> record_run; finalize_run (exit handler) marks a failed run.
"""

from dataclasses import dataclass

from kfp import dsl, kubernetes

from sealtrain.components.check_data_quality import check_data_quality
from sealtrain.components.core.constants import (
    DEFAULT_ALGORITHM,
    DEFAULT_BOOTSTRAP_SAMPLES,
    DEFAULT_MAX_DUPLICATE_SHARE,
    DEFAULT_N_TRIALS,
    DEFAULT_PRECISION_AT_K,
    DEFAULT_RATIOS,
    DEFAULT_SPLIT_SALT,
    DEFAULT_TOLERANCE,
    RUN_ID_ENV,
    SPLITS,
    TEST,
    TRAIN,
    VALIDATION,
)
from sealtrain.components.core.endpoints import DB_URL_ENV, OPTUNA_STORAGE_ENV, TRACKING_URI_ENV
from sealtrain.components.core.engines import DASK_NAMESPACE_ENV, POD_NAME_ENV, POD_NAMESPACE_ENV, TASK_IMAGE_ENV
from sealtrain.components.evaluate_model import evaluate_model
from sealtrain.components.finalize_run import finalize_run
from sealtrain.components.fit_preprocessor import fit_preprocessor
from sealtrain.components.load_dataset import load_dataset
from sealtrain.components.plan_tuning import plan_tuning
from sealtrain.components.qc_gate import qc_gate
from sealtrain.components.recall_best_config import recall_best_config
from sealtrain.components.record_run import record_run
from sealtrain.components.runtime import DEFAULT_IMAGE
from sealtrain.components.select_best_trial import select_best_trial
from sealtrain.components.split_dataset import split_dataset
from sealtrain.components.start_run import start_run
from sealtrain.components.train_model import train_model
from sealtrain.components.tune_hyperparameters import tune_hyperparameters

PIPELINE_NAME = "sealtrain-training"
# On a cluster the tasks that touch MLflow or the run table read their endpoints from this
# ConfigMap and the run table's URL, credentials included, from this Secret (see manifests/).
ENDPOINTS_CONFIG_MAP = "sealtrain-endpoints"
DB_SECRET = "sealtrain-db"
# KFP labels every pod of a run with the run's id, which is the training run's id on a cluster.
RUN_ID_FIELD = "metadata.labels['pipeline/runid']"
# What a task on the Dask engine learns of its pod (the downward API) to name its DaskCluster
# and create it in its namespace (engines.kube_task).
POD_FIELDS = {POD_NAME_ENV: "metadata.name", POD_NAMESPACE_ENV: "metadata.namespace"}
SMALL = (("500m", "1"), ("1Gi", "2Gi"))
LARGE = (("2", "4"), ("4Gi", "8Gi"))


@dataclass(frozen=True)
class StepSettings:
    """How the cluster runs one component.

    Attributes:
        resources: ((cpu request, cpu limit), (memory request, memory limit)).
        cache: Whether KFP may serve the step from its cache; steps with side effects never.
        retries: Retries on failure; only where a retry cannot duplicate a record and the failure
            can be transient (a lost pod, a study's storage); the run table's transient errors are
            retried inside the task (`run_store.with_database`), so its tasks are not retried for them.
        endpoints: Reads MLflow's URI and the run table's URL from the ConfigMap and Secret.
        tuning_storage: Reads Optuna's storage from the ConfigMap and its password from the Secret.
        run_id: Reads the run's id from its pod's label (RUN_ID_ENV), for a cached step that
            records it: as a parameter it would change the step's cache key every run.
        dask: Runs on the Dask engine when the pipeline's engine is dask: gets its pod's name
            and namespace, its image and the namespace of Dask clusters (optional, from the
            ConfigMap), from which it creates its own DaskCluster when there is no scheduler
            address (`engines.dask_session`).
    """

    resources: tuple = SMALL
    cache: bool = True
    retries: int = 0
    endpoints: bool = False
    tuning_storage: bool = False
    run_id: bool = False
    dask: bool = False


# One line per component. record_run is not retried: a retry would log a second MLflow run. start_run
# and recall_best_config only talk to MLflow and the run table, whose clients retry what is
# transient; a task retry would only repeat a store that is down. finalize_run keeps one retry, as
# it alone marks a failed run. split_dataset reads the holdout lock and evaluate_model writes the
# test-access ledger, both in the run table; both stay cached (the lock's fingerprint is an input
# of the split, and a ledger row is written once per model and test split).
STEPS = {
    "start-run": StepSettings(cache=False, endpoints=True),
    "load-dataset": StepSettings(dask=True),
    "check-data-quality": StepSettings(dask=True),
    "qc-gate": StepSettings(),
    "split-dataset": StepSettings(endpoints=True, dask=True),
    "fit-preprocessor": StepSettings(dask=True),
    "recall-best-config": StepSettings(cache=False, endpoints=True),
    "plan-tuning": StepSettings(),
    "tune-hyperparameters": StepSettings(resources=LARGE, retries=2, tuning_storage=True, dask=True),
    "select-best-trial": StepSettings(retries=2, tuning_storage=True),
    "train-model": StepSettings(resources=LARGE, retries=2, dask=True),
    "evaluate-model": StepSettings(resources=(("1", "2"), ("2Gi", "4Gi")), retries=2, endpoints=True, run_id=True,
                                     dask=True),
    "record-run": StepSettings(cache=False, endpoints=True),
    "finalize-run": StepSettings(cache=False, retries=1, endpoints=True),
}


def configure(task: dsl.PipelineTask, image: str, steps: dict[str, StepSettings] | None = None) -> dsl.PipelineTask:
    """Applies the component's line of `steps` (this pipeline's STEPS by default) and the runtime image to one task."""
    settings = (steps or STEPS)[task.component_spec.name.replace("_", "-")]
    (cpu_request, cpu_limit), (memory_request, memory_limit) = settings.resources
    task.set_container_image(image)
    task.set_cpu_request(cpu_request).set_cpu_limit(cpu_limit)
    task.set_memory_request(memory_request).set_memory_limit(memory_limit)
    if not settings.cache:
        task.set_caching_options(False)
    if settings.retries:
        task.set_retry(num_retries=settings.retries, backoff_duration="10s", backoff_factor=2.0)
    if settings.endpoints:
        kubernetes.use_config_map_as_env(task, ENDPOINTS_CONFIG_MAP, {TRACKING_URI_ENV: TRACKING_URI_ENV})
        kubernetes.use_secret_as_env(task, DB_SECRET, {DB_URL_ENV: DB_URL_ENV})
    if settings.tuning_storage:
        # The storage URL names no user or password: libpq reads PGUSER and PGPASSWORD.
        kubernetes.use_config_map_as_env(
            task, ENDPOINTS_CONFIG_MAP, {OPTUNA_STORAGE_ENV: OPTUNA_STORAGE_ENV, "PGUSER": "PGUSER"}
        )
        kubernetes.use_secret_as_env(task, DB_SECRET, {"PGPASSWORD": "PGPASSWORD"})
    if settings.run_id:
        kubernetes.use_field_path_as_env(task, RUN_ID_ENV, RUN_ID_FIELD)
    if settings.dask:
        for env, field in POD_FIELDS.items():
            kubernetes.use_field_path_as_env(task, env, field)
        task.set_env_variable(TASK_IMAGE_ENV, image)
        # Optional: a ConfigMap without the key (or no ConfigMap) leaves the task's own namespace.
        kubernetes.use_config_map_as_env(task, ENDPOINTS_CONFIG_MAP, {DASK_NAMESPACE_ENV: DASK_NAMESPACE_ENV},
                                         optional=True)
    return task


def build_pipeline(image: str = DEFAULT_IMAGE):
    """The training pipeline with every component running `image`.

    The image is chosen here, when the pipeline is built, rather than when the components
    are imported, so one process can compile for any registry.
    """

    @dsl.pipeline(name=PIPELINE_NAME, description="Train a binary classifier with DAG-enforced split isolation.")
    def training_pipeline(
        data_uri: str,
        label_column: str,
        positive_class: str = "",
        group_column: str = "",
        no_group: bool = False,
        drop_columns: list = [],
        time_column: str = "",
        data_fingerprint: str = "",
        upstream_qc_report: str = "",
        algorithm: str = DEFAULT_ALGORITHM,
        hyperparameter_space: str = "",
        default_hyperparameters: str = "",
        n_trials: int = DEFAULT_N_TRIALS,
        tuning_workers: int = 1,
        tuning_metric: str = "auc",
        tuning_timeout: float = 0.0,
        warm_start: bool = False,
        optuna_storage_url: str = "",
        seed: int = 42,
        split_ratios: list = [DEFAULT_RATIOS[s] for s in SPLITS],
        split_salt: str = DEFAULT_SPLIT_SALT,
        split_tolerance: float = DEFAULT_TOLERANCE,
        stratify: bool = False,
        max_duplicate_share: float = DEFAULT_MAX_DUPLICATE_SHARE,
        allow_features: list = [],
        threshold_method: str = "f1",
        bootstrap_samples: int = DEFAULT_BOOTSTRAP_SAMPLES,
        precision_at_k: list = list(DEFAULT_PRECISION_AT_K),
        min_auc: float = 0.0,
        max_test_evaluations: int = 0,
        experiment_id: str = "sealtrain",
        model_version_id: str = "",
        mlflow_tracking_uri: str = "",
        run_db_url: str = "",
        training_run_id: str = "",
        engine: str = "pandas",
        dask_scheduler: str = "",
        dask_workers: int = 0,
    ) -> None:
        """Trains, evaluates and records one model with the split contract enforced by the DAG.

        Args:
            data_uri: Path of the input table (CSV/TSV/Parquet).
            label_column: The binary target column.
            positive_class: The positive label value; empty infers it for 0/1 and true/false.
            group_column: Patient/group id column; no id ever appears in two splits.
            no_group: The user's statement that rows are independent (no patient has two rows):
                without it, a column that identifies patients blocks a run that has no group.
            drop_columns: Columns that must not become features.
            time_column: Date/number column for a time-ordered split; empty for the hash split.
            data_fingerprint: SHA-256 of the input file; keys the cache to the data's content.
            upstream_qc_report: A QC report (JSON) from upstream; empty computes one.
            algorithm: xgboost, logistic_regression, random_forest or hist_gradient_boosting.
            hyperparameter_space: JSON search space; empty uses the algorithm's default.
            default_hyperparameters: JSON of fixed hyperparameters under the sampled ones.
            n_trials: Optuna trials on the validation split, shared by all workers.
            tuning_workers: Parallel tuning tasks sharing one study.
            tuning_metric: Validation objective: auc, pr_auc or log_loss.
            tuning_timeout: Wall-clock limit per tuning worker in seconds; 0 for none.
            warm_start: Try the best configuration of the experiment's last completed run of
                the algorithm first (procedural memory).
            optuna_storage_url: Optuna storage (a database URL or journal://PATH); empty reads
                OPTUNA_STORAGE_URL in the task.
            seed: Seed of tuning, training and the bootstrap.
            split_ratios: Shares of rows of train, validation, test and holdout, in that order.
            split_salt: Salt of the group hash that assigns splits.
            split_tolerance: Allowed deviation of each split's share of rows.
            stratify: Give every split its share of patients with a positive label.
            max_duplicate_share: Largest share of test or holdout rows that may repeat a train
                patient's feature row (re-identified patients); above it the run fails.
            allow_features: Features kept although they alone separate the label on train;
                the override is recorded in the split manifest.
            threshold_method: How validation picks the decision threshold: f1 or youden.
            bootstrap_samples: Resamples for the test confidence intervals.
            precision_at_k: The k of precision@k.
            min_auc: Register the model only if the lower 95% bound of its test AUC reaches
                this; 0 sets no criterion.
            max_test_evaluations: How many models of the experiment may be evaluated on one test
                split; a run beyond it stops before tuning. 0 sets no limit.
            experiment_id: MLflow experiment and run-table experiment id; its holdout lock and
                test-access ledger span its runs.
            model_version_id: Version id of the model candidate; empty derives one.
            mlflow_tracking_uri: MLflow URI; empty reads MLFLOW_TRACKING_URI in the task.
            run_db_url: Run-table URL; empty reads SEALTRAIN_DB_URL in the task.
            training_run_id: The run's id, unique (`sealtrain run` mints a UUID); empty uses the
                orchestrator's job id. A run id that is taken stops the run at start_run.
            engine: "pandas" (each task in its own process) or "dask": load, QC, split,
                preprocessing fit, tuning, training and evaluation run on a Dask cluster.
            dask_scheduler: With dask, the address of a running Dask scheduler; empty starts a
                cluster per task: on Kubernetes a DaskCluster through the dask-kubernetes
                operator, elsewhere a LocalCluster (`engines.dask_session`).
            dask_workers: With dask and no scheduler, each task's cluster's workers; 0 sizes a
                LocalCluster to the machine and gives a DaskCluster 2.

        The records of the run are the outputs of `record_run`: the design's TrainedModel and
        ValidationMetrics (JSON) and a run record that points at every artifact of the run.
        """
        def step(task: dsl.PipelineTask) -> dsl.PipelineTask:
            return configure(task, image)

        finalize = step(finalize_run(
            training_run_id=training_run_id,
            pipeline_job_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
            experiment_id=experiment_id,
            algorithm=algorithm,
            run_db_url=run_db_url,
        ))
        with dsl.ExitHandler(finalize, name="training"):
            started = step(start_run(
                training_run_id=training_run_id,
                pipeline_job_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
                experiment_id=experiment_id,
                model_version_id=model_version_id,
                algorithm=algorithm,
                hyperparameter_space=hyperparameter_space,
                split_salt=split_salt,
                group_column=group_column,
                mlflow_tracking_uri=mlflow_tracking_uri,
                run_db_url=run_db_url,
            ))
            loaded = step(load_dataset(
                data_uri=data_uri, data_fingerprint=data_fingerprint, engine=engine, dask_scheduler=dask_scheduler,
                dask_workers=dask_workers,
            ).after(started))
            checked = step(check_data_quality(
                dataset=loaded.outputs["dataset"],
                label_column=label_column,
                positive_class=positive_class,
                group_column=group_column,
                no_group=no_group,
                drop_columns=drop_columns,
                time_column=time_column,
                upstream_report=upstream_qc_report,
                engine=engine, dask_scheduler=dask_scheduler, dask_workers=dask_workers,
            ))
            gate = step(qc_gate(qc_report=checked.outputs["qc_report"]))
            split = step(split_dataset(
                dataset=loaded.outputs["dataset"],
                qc_status=gate.output,
                label_column=label_column,
                positive_class=positive_class,
                group_column=group_column,
                no_group=no_group,
                drop_columns=drop_columns,
                time_column=time_column,
                split_ratios=split_ratios,
                split_salt=split_salt,
                split_tolerance=split_tolerance,
                stratify=stratify,
                max_duplicate_share=max_duplicate_share,
                allow_features=allow_features,
                experiment_id=experiment_id,
                run_db_url=run_db_url,
                lock_fingerprint=started.outputs["lock_fingerprint"],
                engine=engine, dask_scheduler=dask_scheduler, dask_workers=dask_workers,
            ))
            preprocess = step(fit_preprocessor(
                train=split.outputs[TRAIN], engine=engine, dask_scheduler=dask_scheduler, dask_workers=dask_workers,
            ))
            # After the split, which fingerprints the test split, and before tuning: a spent test
            # budget stops the run before any training.
            recall = step(recall_best_config(
                enabled=warm_start, experiment_id=experiment_id, algorithm=algorithm,
                test_fingerprint=split.outputs["test_fingerprint"], max_test_evaluations=max_test_evaluations,
                run_db_url=run_db_url,
            ))
            planned = step(plan_tuning(
                algorithm=algorithm,
                hyperparameter_space=hyperparameter_space,
                default_hyperparameters=default_hyperparameters,
                n_trials=n_trials,
                tuning_workers=tuning_workers,
                tuning_metric=tuning_metric,
                warm_start=recall.output,
            ))
            with dsl.ParallelFor(planned.output) as item:
                tune = step(tune_hyperparameters(
                    train=split.outputs[TRAIN],
                    validation=split.outputs[VALIDATION],
                    preprocessor=preprocess.outputs["preprocessor"],
                    algorithm=algorithm,
                    hyperparameter_space=hyperparameter_space,
                    default_hyperparameters=default_hyperparameters,
                    n_trials=n_trials,
                    tuning_workers=tuning_workers,
                    worker=item.worker,
                    seed=seed,
                    tuning_metric=tuning_metric,
                    tuning_timeout=tuning_timeout,
                    warm_start=item.warm_start,
                    optuna_storage_url=optuna_storage_url,
                    engine=engine, dask_scheduler=dask_scheduler, dask_workers=dask_workers,
                ))
            select = step(select_best_trial(
                preprocessor=preprocess.outputs["preprocessor"],
                algorithm=algorithm,
                hyperparameter_space=hyperparameter_space,
                default_hyperparameters=default_hyperparameters,
                n_trials=n_trials,
                seed=seed,
                tuning_metric=tuning_metric,
                warm_start=recall.output,
                optuna_storage_url=optuna_storage_url,
                worker_trials=dsl.Collected(tune.output),
            ))
            train = step(train_model(
                train=split.outputs[TRAIN],
                validation=split.outputs[VALIDATION],
                preprocessor=preprocess.outputs["preprocessor"],
                best_hyperparameters=select.outputs["best_hyperparameters"],
                seed=seed,
                threshold_method=threshold_method,
                engine=engine, dask_scheduler=dask_scheduler, dask_workers=dask_workers,
            ))
            evaluate = step(evaluate_model(
                test=split.outputs[TEST],
                preprocessor=preprocess.outputs["preprocessor"],
                model=train.outputs["model"],
                bootstrap_samples=bootstrap_samples,
                seed=seed,
                precision_at_k=precision_at_k,
                min_auc=min_auc,
                experiment_id=experiment_id,
                model_version_id=model_version_id,
                max_test_evaluations=max_test_evaluations,
                run_db_url=run_db_url,
                engine=engine, dask_scheduler=dask_scheduler, dask_workers=dask_workers,
            ))
            step(record_run(
                training_run_id=started.outputs["training_run_id"],
                experiment_id=experiment_id,
                model_version_id=model_version_id,
                mlflow_tracking_uri=mlflow_tracking_uri,
                run_db_url=run_db_url,
                split_manifest=split.outputs["split_manifest"],
                preprocessor=preprocess.outputs["preprocessor"],
                model=train.outputs["model"],
                best_hyperparameters=select.outputs["best_hyperparameters"],
                trials=select.outputs["trials"],
                evaluation=evaluate.outputs["evaluation"],
                report=evaluate.outputs["report"],
                tuning_history=select.outputs["history"],
                qc_report=checked.outputs["qc_report"],
                group_splits=split.outputs["group_splits"],
            ))

    return training_pipeline


training_pipeline = build_pipeline()
