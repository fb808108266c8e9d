"""A small JSON-over-HTTP client for tests that talk to a real server (gunicorn) on 127.0.0.1."""

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass


@dataclass
class Answer:
    status: int
    body: object
    seconds: float
    headers: dict


def call(base_url: str, method: str, path: str, *, token: str | None = None, body=None, timeout: float = 60) -> Answer:
    """One request; any HTTP status is an answer, only a failure to connect raises."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base_url + path, data=data, method=method)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Token {token}")
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw, headers = response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        status, raw, headers = error.code, error.read(), dict(error.headers)
    seconds = time.perf_counter() - started
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode(errors="replace")
    return Answer(status=status, body=parsed, seconds=seconds, headers=headers)
