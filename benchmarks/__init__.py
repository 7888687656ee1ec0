"""The audit at scale: a synthetic organisation of N teams behind the emulators (``python -m benchmarks.audit``)."""
