"""Creates MLflow's artifact bucket on MinIO when it is missing.

Waits up to five minutes for MinIO to answer (the pods start in any order). Exits non-zero
when MinIO refuses the credentials or never answers, so the pod restarts and its log says why.
"""

import os
import sys
import time

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

BUCKET = os.environ["MLFLOW_ARTIFACTS_BUCKET"]
ENDPOINT = os.environ["MLFLOW_S3_ENDPOINT_URL"]
MISSING = {"404", "NoSuchBucket"}
REFUSED = {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"}

s3 = boto3.client("s3", endpoint_url=ENDPOINT, config=Config(connect_timeout=5, read_timeout=10))
deadline = time.monotonic() + 300
while True:
    try:
        s3.head_bucket(Bucket=BUCKET)
        print(f"bucket {BUCKET} exists at {ENDPOINT}")
        break
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in REFUSED:
            sys.exit(f"MinIO at {ENDPOINT} refused the credentials: {exc}")
        if code in MISSING:
            try:
                s3.create_bucket(Bucket=BUCKET)
            except ClientError as create_exc:
                if create_exc.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
                    raise
            print(f"bucket {BUCKET} created at {ENDPOINT}")
            break
        problem = f"answered {code}"
    except BotoCoreError as exc:
        problem = str(exc)
    if time.monotonic() > deadline:
        sys.exit(f"MinIO at {ENDPOINT} is not ready after 5 minutes: {problem}")
    print(f"waiting for MinIO at {ENDPOINT}: {problem}", flush=True)
    time.sleep(5)
