"""Pages read one ahead: the next request flies while the caller uses this page, one request at a time."""

from __future__ import annotations

import gc
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import msgspec
import pytest

from oncall_readiness.errors import SourceError
from oncall_readiness.sources.pagerduty import PagerDutyClient
from oncall_readiness.sources.pagerduty import pages as pagerduty_pages
from oncall_readiness.sources.pagerduty.pages import PageHead, ahead, decode, page_head


def test_the_next_page_is_asked_for_while_the_caller_still_uses_this_one():
    asking_second = threading.Event()

    def pages():
        yield "page 1"
        asking_second.set()  # the request for page 2 starts here
        yield "page 2"

    used = []
    for page in ahead(pages()):
        if page == "page 1":
            # Read page by page without reading ahead, page 2 would not be asked for until this returns.
            assert asking_second.wait(timeout=5)
        used.append(page)
    assert used == ["page 1", "page 2"]


def test_pages_come_in_order_and_an_error_after_the_pages_before_it():
    def pages():
        yield 1
        yield 2
        raise SourceError("pagerduty: GET /users answered 500")

    got = []
    with pytest.raises(SourceError, match="answered 500"):
        for page in ahead(pages()):
            got.append(page)
    assert got == [1, 2]


def test_a_caller_that_stops_costs_at_most_the_page_already_asked_for():
    asked = []

    def pages():
        for number in range(1, 11):
            asked.append(number)
            yield number

    for page in ahead(pages()):
        assert page == 1
        break
    assert len(asked) <= 2  # page 1, and at most page 2 if it was in flight; never the other eight
    assert not any(t.name == "pagerduty-pages" for t in threading.enumerate())  # the reader has finished


def test_the_head_of_a_page_says_what_the_next_request_needs_without_its_objects():
    body = json.dumps({"users": [{"id": "P1"}, {"id": "P2"}], "limit": 100, "offset": 0, "more": True, "total": 250})
    assert page_head(body.encode(), "users") == PageHead(more=True, total=250, count=2)
    last = json.dumps({"users": [], "more": False, "total": None}).encode()
    assert page_head(last, "users") == PageHead(more=False, total=0, count=0)
    assert page_head(b'{"users": null, "more": false}', "users").count is None
    assert page_head(b'{"teams": [], "more": false}', "users").count is None
    with pytest.raises(ValueError):
        page_head(b'{"users": [{"id": "P1"}', "users")  # cut short: malformed JSON, as response.json() raises


def test_a_page_that_msgspec_refuses_but_json_reads_is_read_as_before():
    title = "disk full \ud83d"  # an emoji cut in half by a truncated title: JSON allows the lone escape
    body = json.dumps({"incidents": [{"id": "Q1", "title": title}], "more": False, "total": 1}).encode()
    assert b"\\ud83d" in body
    assert page_head(body, "incidents") == PageHead(more=False, total=1, count=1)
    assert decode(body) == json.loads(body)
    with pytest.raises(ValueError):
        page_head(b'[{"id": "Q1"}, "\\ud83d"]', "incidents")  # not a page at all

    class OnePage(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), OnePage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = PagerDutyClient("token", base_url=f"http://127.0.0.1:{server.server_port}", max_retries=0)
        assert list(client.iter_all("/incidents", "incidents")) == [{"id": "Q1", "title": title}]
    finally:
        server.shutdown()
        server.server_close()


def test_the_garbage_collector_is_off_while_a_page_is_decoded(monkeypatch):
    collector_on = []  # as each decoder began

    def watched(decoder):
        def decoding(body, *args, **kwargs):
            collector_on.append(gc.isenabled())
            return decoder(body, *args, **kwargs)

        return decoding

    monkeypatch.setattr(pagerduty_pages.msgspec.json, "decode", watched(msgspec.json.decode))
    monkeypatch.setattr(pagerduty_pages.json, "loads", watched(json.loads))
    refused = b'{"incidents": [{"title": "cut \\ud83d"}]}'  # msgspec refuses it, json reads it
    assert decode(b'{"users": [{"id": "P1"}]}') == {"users": [{"id": "P1"}]}
    assert decode(refused)["incidents"][0]["title"] == "cut \ud83d"
    with pytest.raises(ValueError):
        decode(b'{"users": [')
    assert collector_on == [False] * 5  # msgspec, msgspec then json, msgspec then json
    assert gc.isenabled()


def test_the_collector_runs_again_only_once_every_thread_has_decoded():
    pause = pagerduty_pages._collector_paused
    with pause:  # one thread still decoding while another finishes
        with pause:
            pass
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()  # a process that runs without the collector keeps running without it
    try:
        decode(b'{"users": []}')
        assert not gc.isenabled()
    finally:
        gc.enable()
