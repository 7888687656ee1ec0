"""The environment's proxies, CA bundle and .netrc login, read once per client instead of per request."""

from __future__ import annotations

import threading

import requests

from oncall_readiness.sources.http import ApiClient, settle_environment

URL = "https://api.pagerduty.example/users"


def _clean(monkeypatch, tmp_path) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))


def test_proxies_ca_bundle_and_netrc_apply_as_requests_would_but_are_read_once(monkeypatch, tmp_path):
    _clean(monkeypatch, tmp_path)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/corporate.pem")
    netrc = tmp_path / "netrc"
    netrc.write_text("machine api.pagerduty.example login robot password s3cret\n")
    monkeypatch.setenv("NETRC", str(netrc))
    session = requests.Session()
    settle_environment(session, URL)
    assert session.proxies["https"] == "http://proxy.internal:3128"
    assert session.verify == "/etc/ssl/corporate.pem"
    assert session.auth == ("robot", "s3cret")
    assert session.trust_env is False  # no environment look-up per request any more
    prepared = session.prepare_request(requests.Request("GET", URL))
    assert prepared.headers["Authorization"].startswith("Basic ")  # the .netrc login, as before


def test_no_proxy_for_the_clients_host_is_honoured(monkeypatch, tmp_path):
    _clean(monkeypatch, tmp_path)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", ".pagerduty.example")
    session = requests.Session()
    settle_environment(session, URL)
    assert not session.proxies.get("https")
    assert session.verify is True and session.auth is None


def test_a_worker_threads_session_keeps_the_settled_environment(monkeypatch, tmp_path):
    _clean(monkeypatch, tmp_path)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    client = ApiClient("https://api.pagerduty.example")  # settles its own session
    seen = {}

    def borrow() -> None:
        with client._borrowed_session() as session:
            seen.update(proxies=dict(session.proxies), verify=session.verify, trust_env=session.trust_env)

    worker = threading.Thread(target=borrow)
    worker.start()
    worker.join()
    assert seen == {"proxies": dict(client.session.proxies), "verify": True, "trust_env": False}


def test_every_sources_client_is_settled_for_its_host(monkeypatch, tmp_path):
    from oncall_readiness.sources.grafana import GrafanaClient
    from oncall_readiness.sources.pagerduty import PagerDutyClient

    _clean(monkeypatch, tmp_path)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    for client in (GrafanaClient("token", base_url="https://grafana.example"), PagerDutyClient("token")):
        assert client.session.trust_env is False, type(client).__name__
        assert client.session.proxies["https"] == "http://proxy.internal:3128", type(client).__name__
    assert PagerDutyClient("token").queries.proxies["https"] == "http://proxy.internal:3128"  # its analytics POSTs
