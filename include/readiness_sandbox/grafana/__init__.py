"""The Grafana emulator: the HTTP API's dashboards, teams and alert rules.

``app`` builds the app (``create_app``); ``state`` documents the state file's format.
Nothing is imported here, so reading the state format does not build the app.
"""
