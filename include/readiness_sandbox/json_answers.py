"""Handlers' answers serialised by ``json.dumps`` at once, not walked first by FastAPI's encoder.

FastAPI passes a returned dict through ``jsonable_encoder`` (a Python call per value) before
serialising it: for a page of 100 PagerDuty users with their contact methods that was most of
the emulator's time per request. The emulators' answers are plain JSON values already, so
``answered_as_json`` serialises them directly; the bytes are the same as FastAPI's own
``JSONResponse`` gives. An answer that is not plain JSON (a datetime) still goes through the
encoder, and a handler that returns a response keeps it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response


def answered_as_json(handler: Callable[..., Any]) -> Callable[..., Any]:
    """``handler`` (sync or async, same parameters for FastAPI) answering with a ready ``JSONResponse``."""
    if inspect.iscoroutinefunction(handler):

        @functools.wraps(handler)
        async def answer_async(*args: Any, **kwargs: Any) -> Any:
            return as_response(await handler(*args, **kwargs))

        return answer_async

    @functools.wraps(handler)
    def answer(*args: Any, **kwargs: Any) -> Any:
        return as_response(handler(*args, **kwargs))

    return answer


def as_response(answer: Any) -> Response:
    if isinstance(answer, Response):
        return answer
    try:
        return JSONResponse(answer)
    except (TypeError, ValueError):  # not plain JSON: what FastAPI would have made of it
        return JSONResponse(jsonable_encoder(answer))
