"""A loopback stand-in for the Slack Web API's two methods the bot calls for owner direct messages.

`users.lookupByEmail` (`email` as a form field or in the query) answers from a directory the test sets up, and
`chat.postMessage` (POST, JSON) records the message; both check the bot token in the
`Authorization` header, as Slack does (`invalid_auth` otherwise). Queued replies (429 with
Retry-After, 500, a Slack error) are answered first, per method. Stdlib only (http.server on
127.0.0.1, a free port, one daemon thread), so `make demo` and the tests need no network. Request
lines are never logged: the token travels in a header, and a demo shows the same discipline.

    catcher = SlackApiCatcher(token="xoxb-test", members={"bob@example.com": "U0BOB00001"})
    base_url = catcher.start()          # http://127.0.0.1:<port>/api/
    ...                                 # MFA_ENFORCER_SLACK_API_URL=base_url, token in the SecureString
    for dm in catcher.posted:
        print(dm["channel"], dm["text"])
    catcher.stop()
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.loopback import LoopbackServer
from tests.support.webhook_catcher import render

LOOKUP = "users.lookupByEmail"
POST = "chat.postMessage"


@dataclass(frozen=True)
class Answer:
    """One planned answer for a method: HTTP status, JSON body, headers."""

    status: int = 200
    body: dict[str, Any] = field(default_factory=lambda: {"ok": True})
    headers: dict[str, str] = field(default_factory=dict)


def rate_limited(retry_after: float = 0) -> Answer:
    """Slack's 429 with Retry-After (seconds)."""
    return Answer(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": f"{retry_after:g}"})


def server_error(status: int = 500) -> Answer:
    """A 5xx from Slack's side."""
    return Answer(status, {"ok": False, "error": "internal_error"})


class SlackApiCatcher:
    """Answers users.lookupByEmail from `members` and records chat.postMessage; thread-safe."""

    def __init__(self, token: str, members: Mapping[str, str] | None = None) -> None:
        self.token = token
        self.members = dict(members or {})
        self.posted: list[dict[str, Any]] = []
        self.lookups: list[str] = []
        self.requests: list[str] = []  # method names, in order, every attempt included
        self.authorization: list[str] = []
        self._answers: dict[str, list[Answer]] = {}
        self._lock = threading.Lock()
        self._server: LoopbackServer | None = None

    def answer(self, method: str, *answers: Answer) -> None:
        """Queue answers for the next calls of `method`; afterwards it answers normally."""
        with self._lock:
            self._answers.setdefault(method, []).extend(answers)

    def start(self) -> str:
        """Listen on a free loopback port; returns the API base URL (ends with `/api/`)."""
        catcher = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._reply(catcher.handle("GET", self.path, self.headers.get("Authorization", ""), b""))

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self._reply(catcher.handle("POST", self.path, self.headers.get("Authorization", ""), raw))

            def _reply(self, answer: Answer) -> None:
                body = json.dumps(answer.body).encode()
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                """Silent: nothing about a request that carries a token is logged."""

        self._server = LoopbackServer(Handler, "slack-api-catcher")
        self._server.start()
        return self.base_url

    @property
    def base_url(self) -> str:
        """The Web API base URL, once started."""
        if self._server is None:
            raise RuntimeError("catcher not started")
        return f"http://127.0.0.1:{self._server.port}/api/"

    def stop(self) -> None:
        """Stop listening and free the port."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    def handle(self, verb: str, path: str, authorization: str, raw: bytes) -> Answer:
        """One request: a queued answer, else the method's normal answer."""
        parts = urlsplit(path)
        method = parts.path.rsplit("/", 1)[-1]
        with self._lock:
            self.requests.append(method)
            self.authorization.append(authorization)
            queued = self._answers.get(method)
            if queued:
                return queued.pop(0)
            if authorization != f"Bearer {self.token}":
                return Answer(200, {"ok": False, "error": "invalid_auth"})
            if method == LOOKUP:  # slack_sdk posts it form-encoded; Slack also takes the query string
                fields = parse_qs(parts.query) | parse_qs(raw.decode())
                email = fields.get("email", [""])[0]
                self.lookups.append(email)
                member = self.members.get(email)
                if member is None:
                    return Answer(200, {"ok": False, "error": "users_not_found"})
                return Answer(200, {"ok": True, "user": {"id": member, "deleted": False, "profile": {"email": email}}})
            if method == POST and verb == "POST":
                message = json.loads(raw or b"{}")
                self.posted.append(message)
                channel = message.get("channel", "")
                return Answer(200, {"ok": True, "channel": f"D{channel[1:]}", "ts": f"{len(self.posted)}.000100"})
            return Answer(404, {"ok": False, "error": "unknown_method"})


@contextmanager
def catching(token: str, members: Mapping[str, str] | None = None) -> Iterator[SlackApiCatcher]:
    """A started catcher for the length of a `with` block."""
    catcher = SlackApiCatcher(token, members)
    catcher.start()
    try:
        yield catcher
    finally:
        catcher.stop()


def render_dm(message: Mapping[str, Any]) -> str:
    """A caught direct message as a person reads it, for a terminal."""
    return render(dict(message))
