"""GitHub runbooks: when each runbook kept in a GitHub repository last changed, and what it covers.

- :mod:`.collect`: the audit's collection and the ``github_runbooks`` facts (the reference);
- :mod:`.client`: the REST and GraphQL client, within GitHub's rate limits;
- :mod:`.graphql`: up to 100 runbooks per query; :mod:`.rest`: two calls per runbook;
- :mod:`.files`: what both readers share (blob links, Markdown headings, the facts of one read).

docs/sources/runbooks.md is the reference.
"""

from oncall_readiness.sources.github.client import API_URL, API_VERSION, SOURCE, GitHubClient
from oncall_readiness.sources.github.collect import (
    FACT_COLUMNS,
    HOST,
    TABLE,
    collect,
    collect_for_audit,
    read_runbooks,
    runbooks_to_collect,
)
from oncall_readiness.sources.github.files import BlobLink, markdown_headings, parse_blob_url

__all__ = [
    "API_URL",
    "API_VERSION",
    "FACT_COLUMNS",
    "HOST",
    "SOURCE",
    "TABLE",
    "BlobLink",
    "GitHubClient",
    "collect",
    "collect_for_audit",
    "markdown_headings",
    "parse_blob_url",
    "read_runbooks",
    "runbooks_to_collect",
]
