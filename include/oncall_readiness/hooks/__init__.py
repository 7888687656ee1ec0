"""Airflow hooks, one per source, registered as a provider (``oncall_readiness.provider``) so the
UI's "Add Connection" offers each connection type with its own fields and a working Test button."""
