"""The Readiness page over six weekly audits, in the real Airflow API server, in headless Chromium.

The warehouse holds the audits of ``tests/integration/page_history.py`` (the sample organisation's
teams, scored and published by the real scorecard and warehouse code). The tests drive the page as an
on-call lead would: the heatmap, a filter, the level-drop flag, a shared filtered link and a cell that
opens the team's check, and a team's per-check timeline with the audit whose data was incomplete.
"""

from __future__ import annotations

import pytest

from tests.integration.page_history import DATES, publish_history
from tests.integration.test_readiness_page import (  # noqa: F401 (browser: a fixture used by name)
    AirflowServer,
    browser,
    element,
    log_in,
    screenshot,
    server_env,
    table_rows,
    wait_for,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def airflow(tmp_path_factory, running_api_server):
    home = tmp_path_factory.mktemp("airflow-home")
    warehouse = home / "warehouse.duckdb"
    publish_history(f"duckdb:///{warehouse}")
    with running_api_server(server_env(home, warehouse), home) as base_url:
        yield AirflowServer(base_url=base_url)


@pytest.fixture
def page(browser, airflow):  # noqa: F811 (the imported fixture)
    browser.get(f"{airflow.base_url}/readiness/")
    log_in(browser, airflow.base_url)
    element(browser, "#heatmap")
    return browser


def visible_teams(driver, table: str) -> list[str]:
    rows = driver.find_elements("css selector", f"{table} tbody tr[data-team-row]")
    return [row.get_attribute("data-team") for row in rows if row.is_displayed()]


def cell(driver, team: str, check_id: str):
    return element(driver, f'#heatmap tr[data-team="{team}"] td[data-check="{check_id}"]')


def test_the_heatmap_shows_each_team_and_check_with_waived_and_unknown_apart(page):
    assert visible_teams(page, "#heatmap") == ["checkout", "notifications", "catalog", "payments", "search", "identity"]
    assert "heat-warn" in cell(page, "payments", "escalation-path").get_attribute("class")
    assert "heat-waived" in cell(page, "notifications", "rotation-sustainability").get_attribute("class")
    assert "heat-fail" in cell(page, "catalog", "chaos-day").get_attribute("class")
    rows = {row[0]: row for row in table_rows(page, "#scorecard")}
    assert rows["notifications"][3:8] == ["4", "0", "0", "0", "1"]  # pass, warn, fail, unknown, waived
    across = table_rows(page, "#checks-across")
    assert across[0][0].startswith("Regular Chaos Days") and across[0][-1] == "catalog"  # fails most, first
    screenshot(page, "readiness-heatmap.png")


def test_a_level_drop_is_flagged_and_the_next_level_says_what_it_needs(page):
    drops = element(page, "#level-drops").text
    assert "payments: gold → silver" in drops and "(since 2026-11-09)" in drops
    rows = {row[0]: row for row in table_rows(page, "#scorecard")}
    assert "▼ -10" in rows["payments"][8] and "was gold" in rows["payments"][8]
    assert "pass Clear escalation path: it owns a service of tier 1" in rows["payments"][10]
    assert "?" in rows["identity"][8]  # identity's gold of 9 Nov rests on unknown checks: marked


def test_a_filter_works_in_the_page_and_its_link_restores_it(page, airflow):
    from selenium.webdriver.support.ui import Select

    Select(element(page, "#filters select[name=status]")).select_by_value("fail")
    assert visible_teams(page, "#heatmap") == ["catalog", "identity"]
    assert visible_teams(page, "#scorecard") == ["catalog", "identity"]
    assert page.current_url.endswith("#status=fail")
    assert element(page, "#filter-count").text == "2 of 6 teams"

    page.get(f"{airflow.base_url}/readiness/#group=commerce&level=gold")  # a link someone shared
    page.refresh()
    wait_for(page, lambda d: visible_teams(d, "#heatmap") == ["checkout", "search"])
    assert element(page, "#filters select[name=group]").get_attribute("value") == "commerce"


def test_a_cell_opens_the_teams_check_and_its_timeline(page):
    cell(page, "payments", "escalation-path").find_element("css selector", "a").click()
    wait_for(page, lambda d: d.current_url.endswith("/readiness/teams/payments#check-escalation-path"))
    assert element(page, "#check-escalation-path").text.startswith("Clear escalation path")
    assert "gold → silver" in element(page, "#level-drop").text
    dates = [th.get_attribute("data-date") for th in page.find_elements("css selector", "#timeline th[data-date]")]
    assert dates == [day.isoformat() for day in DATES]
    row = element(page, '#timeline tr[data-check="escalation-path"]')
    statuses = [td.get_attribute("data-status") for td in row.find_elements("css selector", "td.heat")]
    assert statuses == ["pass"] * 5 + ["warn"]
    screenshot(page, "readiness-team-timeline.png")


def test_an_audit_with_unknown_checks_is_marked_on_the_timeline(page, airflow):
    page.get(f"{airflow.base_url}/readiness/teams/identity")
    gap = element(page, '#timeline th[data-date="2026-11-09"]')
    assert "gap" in gap.get_attribute("class") and "data gap" in gap.get_attribute("title")
    history = table_rows(page, "#history")
    assert history[1][0].startswith("2026-11-09") and "?" in history[1][0]
