"""The project's errors: one tree, so a caller catches a family rather than a hand-kept list.

::

    ReadinessError
    ├── ConfigError          what an operator or a team wrote is wrong: retrying cannot fix it
    │   ├── SettingError         a READINESS_* environment variable (oncall_readiness.config)
    │   ├── RegistryError        the Backstage catalog, its annotations, per-team thresholds
    │   ├── HRExportError        the HR export of joiners
    │   ├── WaiverError          the waivers file and annotations
    │   ├── CampaignError        the campaigns file
    │   ├── CatalogueError       checks.yaml
    │   └── ConnectionConfigError    an Airflow connection that is malformed
    │       └── ConnectionMissingError   ... or not defined at all (its source is skipped)
    │   └── AuditInstantError    a run's audit instant is later than now
    ├── SourceError          a source answered with an error, or could not be read
    ├── DataQualityError     facts broke their data contract
    ├── RegistryNotValidated the run's registry did not load or broke its contract
    ├── DeliveryError        an email, a Slack message or a note was not delivered
    └── WarehouseBusy        the DuckDB warehouse file stayed held by another process past the wait

The DAGs fail a task at once, without retries, on any ``ConfigError`` (:func:`failing_fast`);
everything else is retried as the task's ``retries`` say. The messages are the users': they
name the file, line or entity and the field, the variable, or the connection, and never hold
a secret.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from oncall_readiness.masking import redact


class ReadinessError(Exception):
    """Every error the project raises on purpose."""


class ConfigError(ReadinessError, ValueError):
    """Configuration that retrying cannot fix: the DAGs fail the task at once, naming what to change."""


class ProblemsError(ConfigError):
    """A configuration file's problems, one line each (``file:line: field: what``), under a header.

    ``subject`` says what was read (``the registry catalog``, ``the waivers``); subclasses set it.
    """

    subject = "the configuration"

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        count = len(self.problems)
        header = f"{count} problem{'s' if count != 1 else ''} in {self.subject}:"
        super().__init__("\n".join([header, *self.problems]))


class SettingError(ConfigError):
    """A ``READINESS_*`` environment variable holds a value it cannot (the message names the variable)."""


class RegistryError(ProblemsError):
    """The catalog has problems (file, entity, field); per-team threshold annotations included."""

    subject = "the registry catalog"


class HRExportError(ProblemsError):
    """The HR export has problems (file, line, column)."""

    subject = "the HR export"


class WaiverError(ProblemsError):
    """The waivers have problems (file, line, field)."""

    subject = "the waivers"


class CampaignError(ProblemsError):
    """The campaigns file has problems (file, line, field)."""

    subject = "the campaigns file"


class CatalogueError(ConfigError):
    """checks.yaml is malformed; the message says where."""


class ConnectionConfigError(ConfigError):
    """A connection is incomplete or malformed; the message names the connection id."""


class ConnectionMissingError(ConnectionConfigError):
    """The connection is not defined at all: its source is not configured, so it is skipped."""


class AuditInstantError(ConfigError):
    """A run asks to audit an instant later than now (a future date given to a trigger or ``dags test``)."""


class SourceError(ReadinessError, RuntimeError):
    """A source answered with an error that retrying the request cannot fix, or could not be read.

    Its message is redacted (``masking.redact``): it may quote an API's answer or a URL, and it
    becomes a check's reason, a task's failure and a log line.
    """

    def __init__(self, message: object = "", *args: object) -> None:
        super().__init__(redact(str(message)), *args)


class DataQualityError(ReadinessError, RuntimeError):
    """Facts failed their data contract: the checks that read them become unknown."""


class RegistryNotValidated(ReadinessError, RuntimeError):
    """The registry did not load, or broke its contract, in this run: nothing may be published."""


class DeliveryError(ReadinessError, RuntimeError):
    """A message was not delivered (an email, a Slack message); the ledger keeps what was."""


class WarehouseBusy(ReadinessError, RuntimeError):
    """The embedded DuckDB warehouse file was not free within the wait (another process holds it).

    The message says how long was waited and, from DuckDB, which process holds the file; a task
    failing on it is retried, and the readiness API answers 503 with ``Retry-After``.
    """


@contextmanager
def failing_fast() -> Iterator[None]:
    """Run a task's body; a ``ConfigError`` fails the task at once, without its retries."""
    try:
        yield
    except ConfigError as error:
        from airflow.sdk.exceptions import AirflowFailException  # on failure only: DAG files parse without it

        raise AirflowFailException(str(error)) from error
