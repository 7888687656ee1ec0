"""Local emulators of the SaaS APIs the audit reads (the sandbox).

- ``pagerduty.create_app(state, tokens=...)``: the PagerDuty REST API v2 emulator, over an
  account read by ``pagerduty.load_pagerduty_state(path)`` (format: ``pagerduty_state``;
  schedule rendering: ``pagerduty_schedules``); ``grafana``, ``github`` and ``confluence``
  emulate those APIs the same way, each over a state file of the sample organisation;
- ``prometheus.running_prometheus()``: a real Prometheus (never emulated) with rule files;
- ``python -m oncall_readiness.sandbox``: serves every emulator under its prefix (``server``);
- ``process.running_sandbox()``: that server as a subprocess, for tests and the demo.

Submodules are imported on use, so importing this package stays light.
"""
