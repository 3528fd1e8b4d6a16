#!/bin/sh
# Runs once, when the postgres image initialises an empty data directory
# (/docker-entrypoint-initdb.d). One server, three databases:
#   sealtrain  the run table (ml_training_runs), owned by the role `sealtrain`
#   optuna     Optuna's study storage, owned by `sealtrain` too (the pipeline writes both)
#   mlflow     MLflow's backend store, owned by the role `mlflow`
# Passwords come from the environment (Secrets) and reach SQL as psql variables, which
# quote them; they are never part of the script. Changing a Secret later does not change a
# role's password: run ALTER ROLE ... PASSWORD as well (manifests/README.md).
set -eu

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname postgres \
    --set mlflow_password="$MLFLOW_DB_PASSWORD" \
    --set sealtrain_password="$SEALTRAIN_DB_PASSWORD" <<'SQL'
CREATE ROLE mlflow LOGIN PASSWORD :'mlflow_password';
CREATE DATABASE mlflow OWNER mlflow;
CREATE ROLE sealtrain LOGIN PASSWORD :'sealtrain_password';
CREATE DATABASE sealtrain OWNER sealtrain;
CREATE DATABASE optuna OWNER sealtrain;
-- Nobody but the owners (and the superuser) may connect to these databases.
REVOKE ALL ON DATABASE mlflow FROM PUBLIC;
REVOKE ALL ON DATABASE sealtrain FROM PUBLIC;
REVOKE ALL ON DATABASE optuna FROM PUBLIC;
SQL
