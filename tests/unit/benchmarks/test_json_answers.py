"""The emulators' answers: the bytes FastAPI's JSONResponse gives, serialised without its per-value walk."""

from __future__ import annotations

from fastapi.responses import JSONResponse
from pydantic import BaseModel

from readiness_sandbox.json_answers import answered_as_json, as_response


def test_a_plain_answer_is_the_bytes_and_headers_fastapi_gives():
    answer = {
        "users": [{"id": "PABC123", "name": "Zoë O'Brien", "teams": [], "score": 3, "ratio": 0.25, "note": None}],
        "more": False,
        "total": 2**40,
        "quote": 'a "quoted" \\ path/with/slashes\n',
    }
    ours, fastapis = as_response(answer), JSONResponse(answer)
    assert ours.body == fastapis.body
    assert dict(ours.headers) == dict(fastapis.headers)


def test_an_answer_that_is_not_plain_json_goes_through_fastapis_encoder():
    class Team(BaseModel):
        id: str
        name: str

    assert as_response({"team": Team(id="PT1", name="Payments")}).body == b'{"team":{"id":"PT1","name":"Payments"}}'


def test_a_handler_that_answers_with_a_response_keeps_it():
    teapot = JSONResponse({"error": "teapot"}, status_code=418)
    assert answered_as_json(lambda: teapot)() is teapot
