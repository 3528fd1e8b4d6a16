#!/bin/sh
# Starts the MLflow tracking server. The official image carries MLflow alone, so this
#   1. refuses to start while a Secret still holds its template placeholder,
#   2. installs the Postgres driver and boto3 (pinned in the Deployment's env) into a
#      writable emptyDir (PYTHONUSERBASE), the root filesystem being read-only,
#   3. creates the artifact bucket on MinIO when it is missing,
#   4. execs `mlflow server` with the Deployment's arguments.
set -eu

for value in "$PGPASSWORD" "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY"; do
    case "$value" in
        ""|*REPLACE_ME*)
            echo "mlflow: a Secret still holds its template placeholder; fill the Secrets (manifests/README.md)" >&2
            exit 1 ;;
    esac
done

python -m pip install --user --quiet --no-cache-dir --disable-pip-version-check --no-warn-script-location \
    "psycopg2-binary==${PSYCOPG2_VERSION}" "boto3==${BOTO3_VERSION}"
python "$(dirname "$0")/ensure_bucket.py"
exec mlflow server "$@"
