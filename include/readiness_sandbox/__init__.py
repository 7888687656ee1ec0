"""The sandbox: everything that lets the audit run without real SaaS accounts.

Production never imports this package (a test checks it); a production image may leave it
out.

- ``emulators.EMULATORS``: one record per emulated source (PagerDuty, Grafana, GitHub,
  Confluence, the Chaos Day calendar), each an API emulator (the packages ``pagerduty``,
  ``grafana``, ``github``, ``confluence``: the app in ``app``, the state file's format in
  ``state``; the one module ``chaos_calendar``) over a file of the sample organisation
  (``sample_org``);
- ``prometheus.running_prometheus()``: a real Prometheus (never emulated) with rule files;
- ``python -m readiness_sandbox``: serves every emulator under ``/<source>`` (``server``);
- ``process.running_sandbox()``: that server as a subprocess, for tests and the demo;
- ``demo`` (``make demo``) and ``standalone`` (``make airflow``): Airflow on the sample
  organisation, the only places that use embedded defaults.

Submodules are imported on use, so importing this package stays light.
"""
