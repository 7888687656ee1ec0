"""A reason is one sentence: a clause repeated per item is said once with its count, and the text stays short."""

from __future__ import annotations

import pandas as pd

from oncall_readiness.reasons import MAX_LENGTH, one_sentence, sentences


def test_a_clause_repeated_a_hundred_times_is_said_once_with_its_count():
    clause = "error: Cannot query field 'history' on type 'Commit'"
    reason = "; ".join([clause] * 100) + "."
    assert one_sentence(reason) == f"{clause} (100 times)."


def test_distinct_clauses_keep_their_order_and_a_long_text_is_cut_at_a_word():
    text = "; ".join(f"service-{i:03d} has no runbook link" for i in range(40))
    short = one_sentence(text)
    assert short.startswith("service-000 has no runbook link; service-001") and short.endswith("…")
    assert len(short) <= MAX_LENGTH and " ser…" not in short


def test_a_column_of_reasons_is_fixed_only_where_it_needs_to_be():
    reasons = pd.Series(["All good.", None, "; ".join(["x is down"] * 3) + "."], dtype="object")
    assert sentences(reasons).tolist() == ["All good.", None, "x is down (3 times)."]


def test_the_runner_never_publishes_a_reason_longer_than_a_sentence():
    from oncall_readiness.checks.runner import evaluate_checks
    from oncall_readiness.registry import load_registry
    from oncall_readiness.source_catalogue import collected_sources
    from readiness_sandbox.sample_org import CATALOG

    facts = load_registry(CATALOG).to_facts()
    down = "; ".join(["GitHub answered 502 at POST /graphql"] * 200)
    unavailable = {source.name: down for source in collected_sources()}  # every source down, the same way
    results, _ = evaluate_checks(
        audit_instant=pd.Timestamp("2026-11-16T00:00:00Z"), facts=facts, unavailable=unavailable
    )
    assert results["reason"].str.len().max() <= MAX_LENGTH
    told = results[results["reason"].str.contains("unavailable", regex=False)]["reason"]
    assert len(told) and told.str.contains("GitHub answered 502 at POST /graphql (200 times)", regex=False).all()
