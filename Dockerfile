# The image behind docker-compose.yml and the Helm chart (docs/deploy.md): Airflow's own image
# with exactly the dependencies uv.lock pins, and the oncall-readiness package.
# The base image's Airflow and uv's version must be the ones uv.lock and the Makefile pin
# (tests/test_dockerfile.py checks both).
FROM ghcr.io/astral-sh/uv:0.13.9 AS uv

FROM apache/airflow:3.3.2-python3.11
COPY --from=uv /uv /usr/local/bin/uv
COPY --chown=airflow:root pyproject.toml uv.lock README.md /opt/oncall-readiness/
# The runtime dependencies as locked, hashes checked: nothing is resolved again, and the Airflow
# they pin is the base image's own. A layer of its own, so a code change does not reinstall them.
RUN cd /opt/oncall-readiness \
 && uv export --frozen --no-dev --no-emit-project --output-file /tmp/requirements.txt \
 && pip install --no-cache-dir --require-hashes -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt
COPY --chown=airflow:root include /opt/oncall-readiness/include
# The project itself, without its dependencies: those are the lock's, installed above.
RUN pip install --no-cache-dir --no-deps /opt/oncall-readiness
COPY --chown=airflow:root dags /opt/airflow/dags
COPY --chown=airflow:root plugins /opt/airflow/plugins
