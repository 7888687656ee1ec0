"""The PagerDuty emulator: the REST API v2 over a YAML-described account.

``app`` builds the app (``create_app``) and guards every request; the modules beside it are
listed in its docstring, and ``state`` documents the state file's format. Nothing is imported
here, so reading one module (the state format, the schedules) does not build the app.
"""
