"""The Celery app's configuration in the production-shape test: Airflow's default, plus the modules
every task imports, loaded once by each worker before it forks its pool.

Set as ``AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS=celery_config.CELERY_CONFIG`` (this folder on the
PYTHONPATH), with the modules in ``READINESS_PRELOAD_MODULES`` (stack.TASK_MODULES). Without it each
task process imports pandas, the runtime package and Great Expectations anew: seconds of CPU per
task, most of what the audit costs on a 2-core machine.
"""

from __future__ import annotations

import os

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

CELERY_CONFIG = {**DEFAULT_CELERY_CONFIG, "imports": tuple(os.environ["READINESS_PRELOAD_MODULES"].split(","))}
