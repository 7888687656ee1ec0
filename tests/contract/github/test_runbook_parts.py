"""Reading runbooks: links to GitHub files and Confluence pages, and the four parts in their headings."""

from __future__ import annotations

import pytest

from oncall_readiness.runbook_facts import PART_COLUMNS, PART_LABELS, RUNBOOK_COLUMNS, runbook_host
from oncall_readiness.sources.confluence import FACT_COLUMNS as CONFLUENCE_COLUMNS
from oncall_readiness.sources.confluence import parse_page_url, storage_headings
from oncall_readiness.sources.github import FACT_COLUMNS as GITHUB_COLUMNS
from oncall_readiness.sources.github import BlobLink, markdown_headings, parse_blob_url
from oncall_readiness.sources.runbooks import PART_PATTERNS, runbook_parts


@pytest.mark.parametrize(
    ("url", "link"),
    [
        ("https://github.com/o/r/blob/main/x.md", BlobLink("o", "r", "main", "x.md")),
        ("https://github.com/o/r/blob/v1.2/docs/run%20book.md#alerts", BlobLink("o", "r", "v1.2", "docs/run book.md")),
        ("https://www.github.com/o/r/blob/0a1b2c3/x.md?plain=1", BlobLink("o", "r", "0a1b2c3", "x.md")),
        ("https://github.com/o/r", None),
        ("https://github.com/o/r/tree/main/docs", None),
        ("https://gitlab.com/o/r/-/blob/main/x.md", None),
        ("https://github.example.com/o/r/blob/main/x.md", None),
    ],
)
def test_github_blob_urls(url, link):
    assert parse_blob_url(url) == link


@pytest.mark.parametrize(
    ("url", "page_id"),
    [
        ("https://example.atlassian.net/wiki/spaces/OPS/pages/40960001/Payments+Reconciler+Runbook", "40960001"),
        ("https://example.atlassian.net/wiki/spaces/OPS/pages/123", "123"),
        ("https://example.atlassian.net/wiki/spaces/OPS/pages/edit-v2/123", "123"),
        ("https://example.atlassian.net/wiki/pages/viewpage.action?pageId=456", "456"),
        ("https://example.atlassian.net/wiki/x/AbCdEf", None),
        ("https://confluence.example.com/display/OPS/Runbook", None),
    ],
)
def test_confluence_page_urls(url, page_id):
    assert parse_page_url(url) == page_id


MARKDOWN = """\
# Checkout runbook

Failure Modes
=============

Some text.
- a list item
---

**Mitigation:**

```sh
# Alert thresholds are in the code, this is a comment in a fenced block
```

### Step-by-Step  ###
"""


def test_markdown_headings_atx_setext_and_bold_lines_but_not_code():
    assert markdown_headings(MARKDOWN) == ["Checkout runbook", "Failure Modes", "Mitigation", "Step-by-Step"]
    assert runbook_parts(markdown_headings(MARKDOWN)) == {
        "has_failure_scenarios": True,
        "has_mitigations": True,
        "has_alert_thresholds": False,
        "has_step_by_step": True,
    }


def test_storage_headings_headings_bold_paragraphs_and_expand_titles():
    xhtml = (
        "<h1>Runbook</h1><p>Text with <strong>bold</strong> words.</p>"
        "<h3>Known&nbsp;issues</h3><p><strong>Workarounds:</strong></p>"
        '<ac:structured-macro ac:name="expand"><ac:parameter ac:name="title">Alerting</ac:parameter>'
        "<ac:rich-text-body><p>x</p></ac:rich-text-body></ac:structured-macro>"
        '<ac:structured-macro ac:name="code"><ac:plain-text-body><![CDATA[## Procedures]]></ac:plain-text-body>'
        "</ac:structured-macro>"
    )
    assert storage_headings(xhtml) == ["Runbook", "Known issues", "Workarounds", "Alerting"]
    parts = runbook_parts(storage_headings(xhtml))
    assert parts == {
        "has_failure_scenarios": True,
        "has_mitigations": True,
        "has_alert_thresholds": True,
        "has_step_by_step": False,
    }


@pytest.mark.parametrize(
    ("heading", "part"),
    [
        ("Failure scenarios", "has_failure_scenarios"),
        ("What can go wrong?", "has_failure_scenarios"),
        ("FAILURES", "has_failure_scenarios"),
        ("How to mitigate", "has_mitigations"),
        ("Remediation", "has_mitigations"),
        ("Alerts", "has_alert_thresholds"),
        ("Thresholds & SLOs", "has_alert_thresholds"),
        ("Step by step guides", "has_step_by_step"),
        ("Runbook steps", "has_step_by_step"),
        ("Procedures", "has_step_by_step"),
        ("Playbook", "has_step_by_step"),
    ],
)
def test_part_synonyms(heading, part):
    parts = runbook_parts([heading])
    assert parts[part] and sum(parts.values()) == 1, parts


def test_words_in_body_text_or_titles_do_not_count():
    assert not any(runbook_parts(["Checkout API Runbook", "Overview", "Contacts"]).values())


def test_every_part_has_its_label_and_its_headings():
    assert list(PART_PATTERNS) == list(PART_LABELS) == PART_COLUMNS


@pytest.mark.parametrize("columns", [GITHUB_COLUMNS["github_runbooks"], CONFLUENCE_COLUMNS["confluence_runbooks"]])
def test_every_host_table_has_the_columns_the_check_reads(columns):
    assert set(RUNBOOK_COLUMNS) <= set(columns)


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://github.com/o/r/blob/main/x.md", "github"),
        ("https://GitHub.com/o/r", "github"),
        ("https://example.atlassian.net/wiki/spaces/OPS/pages/1/Runbook", "confluence"),
        ("https://example.atlassian.net/jira/browse/OPS-1", None),
        ("https://runbooks.example.com/checkout", None),
        (None, None),
    ],
)
def test_runbook_links_are_told_apart_by_host(url, host):
    assert runbook_host(url) == host
