"""The hostname a Celery worker of the production-shape test records on its task instances.

Airflow records ``[core] hostname_callable()`` as a task instance's ``hostname``; both test
workers run on one machine, so the default (the FQDN) would not tell them apart. The stack sets
``AIRFLOW__CORE__HOSTNAME_CALLABLE=worker_name.hostname`` and ``READINESS_WORKER_NAME`` per worker.
"""

from __future__ import annotations

import os
import socket


def hostname() -> str:
    return f"{socket.getfqdn()}-{os.environ['READINESS_WORKER_NAME']}"
