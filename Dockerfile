# The image behind docker-compose.yml: Airflow with the oncall-readiness package installed.
FROM apache/airflow:3.3.2-python3.11
COPY --chown=airflow:root pyproject.toml uv.lock README.md /opt/oncall-readiness/
COPY --chown=airflow:root include /opt/oncall-readiness/include
RUN pip install --no-cache-dir /opt/oncall-readiness
COPY --chown=airflow:root dags /opt/airflow/dags
COPY --chown=airflow:root plugins /opt/airflow/plugins
