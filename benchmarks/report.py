"""The benchmark's tables: per source (requests and time against their floors), the rest of the run, the emails."""

from __future__ import annotations

from typing import Any

from benchmarks import floors

SOURCES = ("pagerduty", "jsm_ops", "grafana", "github", "confluence", "chaos_calendar", "jira", "prometheus")
STAGES = ("load_registry", "validate_registry", "evaluate_checks", "score", "publish")


def source_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Per source: requests received, of which refused or failed, floor, collect seconds, time floor."""
    latency = result["latency_ms"] / 1000
    rows = []
    for source in SOURCES:
        received = [row for row in result["requests"] if row["source"] == source]
        requests = sum(row["requests"] for row in received) if source != "prometheus" else None
        refused = sum(row["requests"] for row in received if row["status"] >= 400)
        emulator = round(sum(row.get("server_seconds", 0) for row in received), 1) if received else None
        floor = sum(result["floors"][source].values()) if source in result["floors"] else 1
        collect = _task_seconds(result, "audit_source.collect", source)
        validate = _task_seconds(result, "audit_source.validate", source)
        time_floor = floors.time_floor(source, floor, latency) if source in floors.RATE_LIMITS else None
        rows.append(
            {
                "source": source,
                "requests": requests,
                "refused": refused,
                "floor": floor,
                "ratio": round(requests / floor, 2) if requests is not None and floor else None,
                "collect_s": collect,
                "emulator_s": emulator,
                "validate_s": validate,
                "time_floor_s": round(time_floor, 1) if time_floor is not None else None,
                "time_ratio": round(collect / time_floor, 2) if collect and time_floor else None,
                "state": _task_state(result, "audit_source.collect", source),
            }
        )
    return rows


def stage_seconds(result: dict[str, Any]) -> dict[str, float | None]:
    return {stage: _task_seconds(result, stage) for stage in STAGES}


def _task_seconds(result: dict[str, Any], task: str, source: str | None = None) -> float | None:
    times = [t["seconds"] for t in result["tasks"] if t["task"] == task and t["source"] == source and t["seconds"]]
    return round(sum(times), 2) if times else None


def _task_state(result: dict[str, Any], task: str, source: str) -> str | None:
    return next((t["state"] for t in result["tasks"] if t["task"] == task and t["source"] == source), None)


def pagerduty_sentences(result: dict[str, Any]) -> list[str]:
    """PagerDuty's collect against this machine's least for its requests, and the audit's own share (``replay.py``)."""
    row = next(row for row in source_rows(result) if row["source"] == "pagerduty")
    floor, collect = row["time_floor_s"], row["collect_s"]
    if not floor or not collect:
        return []
    sentences = []
    if (replayed := result.get("pagerduty_replay_s")) is not None:
        sentences.append(
            f"PagerDuty's requests sent again one after another to a fresh sandbox by a client that does nothing else "
            f"took {replayed:g} s ({replayed / floor:.2f} × its time floor): the least this machine collects them in. "
            f"The audit's collect took {collect / replayed:.2f} × that."
        )
    if timeline := result.get("pagerduty_requests_s"):
        between, around = timeline["between"], max(0.0, collect - timeline["span"])
        estimate = floor + between + around
        sentences.append(
            f"From its first request to its last answer the collect took {timeline['span']:g} s, {between:g} s "
            f"of them with no request at the emulator (the audit's own work between requests, its HTTP client's "
            f"included), and {around:.1f} s before and after (the task's start, staging the facts): where a round "
            f"trip is the latency, about {floor:g} + {between:g} + {around:.1f} = {estimate:.1f} s "
            f"({estimate / floor:.2f} × the time floor)."
        )
    return sentences


def email_rows(result: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The weekly emails' row and the alerts' row of one size (``email_delivery.py``); None when not measured."""
    emails = result.get("emails")
    if not emails:
        return None
    weekly, alerts = emails["weekly"], emails["alerts"]
    weekly_row = {
        "built": weekly.get("emails"),
        "build_s": weekly.get("task_s"),  # what the build task pays: reading the week and building
        "send_s": weekly.get("send_s"),
        "peak_rss_mb": weekly.get("peak_rss_mb"),
        "largest_kb": _kb(weekly.get("largest_bytes")),
        "largest": weekly.get("largest"),
        "delivered": weekly["delivered"],
        "team_emails": f"{weekly['team_emails_delivered']} of {weekly.get('team_emails')}",
        "once": "yes" if weekly["each_once"] and weekly["team_emails_delivered"] == weekly.get("team_emails") else "NO",
        "sessions": weekly["smtp_sessions"],
        "exit_code": weekly["exit_code"],
    }
    alerts_row = {
        "changes": alerts.get("changes"),
        "teams": alerts.get("slack_teams"),
        "emails": alerts["delivered"],
        "once": "yes" if alerts["each_once"] and alerts["delivered"] == alerts.get("emails") else "NO",
        "slack_posts": alerts["slack_posts"],
        "send_s": alerts.get("send_s"),
        "peak_rss_mb": alerts.get("peak_rss_mb"),
        "largest_kb": _kb(alerts["largest_delivered_bytes"]),
        "largest_slack_kb": _kb(alerts["largest_slack_post_chars"]),
        "sessions": alerts["smtp_sessions"],
        "exit_code": alerts["exit_code"],
    }
    return weekly_row, alerts_row


def _kb(size: int | None) -> float | None:
    return None if size is None else round(size / 1024, 1)


def email_lines(result: dict[str, Any]) -> list[str]:
    """The weekly emails and the alerts of one size, for the terminal."""
    rows = email_rows(result)
    if rows is None:
        return []
    weekly, alerts = rows
    return [
        f"  weekly emails: {_cell(weekly['built'])} built in {_cell(weekly['build_s'])} s, sent in "
        f"{_cell(weekly['send_s'])} s ({weekly['sessions']} SMTP session(s)), peak memory "
        f"{_cell(weekly['peak_rss_mb'])} MB, largest {_cell(weekly['largest_kb'])} KB ({weekly['largest']}); "
        f"delivered {weekly['delivered']}, team emails {weekly['team_emails']}, each once: {weekly['once']}",
        f"  alerts of a day with changes: {_cell(alerts['changes'])} changes in {_cell(alerts['teams'])} teams, "
        f"{alerts['emails']} emails ({alerts['sessions']} SMTP session(s), each once: {alerts['once']}) and "
        f"{alerts['slack_posts']} Slack message(s) in {_cell(alerts['send_s'])} s, peak memory "
        f"{_cell(alerts['peak_rss_mb'])} MB, largest email {_cell(alerts['largest_kb'])} KB, largest Slack message "
        f"{_cell(alerts['largest_slack_kb'])} KB",
    ]


def email_markdown(results: list[dict[str, Any]]) -> list[str]:
    """The tables of the weekly emails and the alerts, one row per size measured."""
    measured = [(result["teams"], rows) for result in results if (rows := email_rows(result)) is not None]
    if not measured:
        return []
    parts = [
        "",
        "| teams | emails built | build (s) | send (s) | SMTP sessions | peak memory (MB) | largest message (KB) "
        "| delivered | team emails delivered | each once |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for teams, (weekly, _) in measured:
        parts.append(
            f"| {teams:,} | {_cell(weekly['built'])} | {_cell(weekly['build_s'])} | {_cell(weekly['send_s'])} | "
            f"{weekly['sessions']} | {_cell(weekly['peak_rss_mb'])} | {_cell(weekly['largest_kb'])} "
            f"({weekly['largest']}) | {weekly['delivered']} | {weekly['team_emails']} | {weekly['once']} |"
        )
    parts += [
        "",
        "| teams | changes | teams changed | alert emails | SMTP sessions | Slack messages | send (s) "
        "| peak memory (MB) | largest email (KB) | largest Slack message (KB) | each once |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for teams, (_, alerts) in measured:
        parts.append(
            f"| {teams:,} | {_cell(alerts['changes'])} | {_cell(alerts['teams'])} | {alerts['emails']} | "
            f"{alerts['sessions']} | {alerts['slack_posts']} | {_cell(alerts['send_s'])} | "
            f"{_cell(alerts['peak_rss_mb'])} | {_cell(alerts['largest_kb'])} | {_cell(alerts['largest_slack_kb'])} | "
            f"{alerts['once']} |"
        )
    return parts


def _cell(value: Any) -> str:
    return "n/a" if value is None else f"{value:,}" if isinstance(value, int) else str(value)


def text(result: dict[str, Any]) -> str:
    """The plain-text report of one size, for the terminal."""
    lines = [
        f"\n{result['teams']:,} teams ({result['counts']['people']:,} people, {result['counts']['services']:,} "
        f"services), latency {result['latency_ms']:g} ms, airflow dags test exit {result['exit_code']}"
    ]
    if result.get("round_trip_ms"):
        lines.append(f"  a request that does nothing takes {result['round_trip_ms']:g} ms here (one after another)")
    lines.append(
        f"  {'source':<15}{'requests':>9}{'refused':>8}{'floor':>7}{'x floor':>8}"
        f"{'collect s':>10}{'floor s':>8}{'x floor':>8}{'emul. s':>8}  state"
    )
    for row in source_rows(result):
        lines.append(
            f"  {row['source']:<15}{_cell(row['requests']):>9}{_cell(row['refused']):>8}{_cell(row['floor']):>7}"
            f"{_cell(row['ratio']):>8}{_cell(row['collect_s']):>10}{_cell(row['time_floor_s']):>8}"
            f"{_cell(row['time_ratio']):>8}{_cell(row['emulator_s']):>8}  {row['state']}"
        )
    lines.extend(f"  {sentence}" for sentence in pagerduty_sentences(result))
    stages = stage_seconds(result)
    past_collection = sum(stages[s] or 0 for s in ("evaluate_checks", "score", "publish"))
    lines.append("  " + ", ".join(f"{stage} {_cell(seconds)} s" for stage, seconds in stages.items()))
    lines.append(
        f"  checks + score + publish {past_collection:.1f} s; whole run {result['dag_test_s']} s; "
        f"peak memory {result['peak_rss_mb']:,} MB; DAG parse {max(result['parse'].values()):.3f} s (slowest file)"
    )
    statuses = result["statuses"].get("by_status", {})
    lines.append("  check results: " + ", ".join(f"{status} {count}" for status, count in statuses.items()))
    for unknown in result["statuses"].get("unknown", []):
        lines.append(f"    unknown {unknown['check_id']} ({unknown['teams']} teams): {unknown['reason']}")
    lines.extend(email_lines(result))
    return "\n".join(lines)


def markdown(results: list[dict[str, Any]]) -> str:
    """The tables of docs/performance.md: one per size, then the figures past collection."""
    parts = []
    for result in results:
        parts.append(f"### {result['teams']:,} teams\n")
        if result.get("round_trip_ms"):
            parts.append(
                f"A request the emulators answer at once took {result['round_trip_ms']:g} ms here for the "
                f"{result['latency_ms']:g} ms latency (the machine's HTTP stack on both ends).\n"
            )
        parts.append(
            "| source | requests | floor | × floor | collect (s) | time floor (s) | × time floor | emulator (s) |"
        )
        parts.append("|---|---:|---:|---:|---:|---:|---:|---:|")
        for row in source_rows(result):
            requests = _cell(row["requests"]) + (f" ({row['refused']} refused)" if row["refused"] else "")
            parts.append(
                f"| {row['source']} | {requests} | {_cell(row['floor'])} | {_cell(row['ratio'])} | "
                f"{_cell(row['collect_s'])} | {_cell(row['time_floor_s'])} | {_cell(row['time_ratio'])} | "
                f"{_cell(row['emulator_s'])} |"
            )
        if sentences := pagerduty_sentences(result):
            parts.append("\n" + " ".join(sentences))
        parts.append("")
    parts.append(
        "| teams | load registry (s) | checks (s) | score (s) | publish (s) | checks+score+publish (s) "
        "| whole run (s) | peak memory (MB) | slowest DAG parse (s) | unknown results |"
    )
    parts.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for result in results:
        stages = stage_seconds(result)
        past = sum(stages[s] or 0 for s in ("evaluate_checks", "score", "publish"))
        unknown = result["statuses"].get("by_status", {}).get("unknown", 0)
        parts.append(
            f"| {result['teams']:,} | {_cell(stages['load_registry'])} | {_cell(stages['evaluate_checks'])} | "
            f"{_cell(stages['score'])} | {_cell(stages['publish'])} | {past:.1f} | {result['dag_test_s']} | "
            f"{result['peak_rss_mb']:,} | {max(result['parse'].values()):.3f} | {unknown} |"
        )
    parts.extend(email_markdown(results))
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.report [.benchmark]``: the tables again from every results-<teams>.json there."""
    import argparse
    import json
    from pathlib import Path

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("out", type=Path, nargs="?", default=Path(".benchmark"))
    args = parser.parse_args(argv)
    results = sorted(
        (json.loads(path.read_text(encoding="utf-8")) for path in args.out.glob("results-*.json")),
        key=lambda result: result["teams"],
    )
    for result in results:
        print(text(result))
    print()
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
