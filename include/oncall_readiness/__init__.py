"""On-call readiness audits."""
