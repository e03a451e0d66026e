"""A loopback stand-in for a Slack incoming webhook, and readable renderings of what the bot sent.

Used by `make demo` and by the functional tests: stdlib only (http.server on 127.0.0.1, a free
port, one daemon thread), so neither needs a network or a Slack workspace. The catcher records
every JSON body posted to it and answers `ok`, or whatever responses a test queued up (429 with
Retry-After, 500, 404 `no_service`...). It never logs request lines: the path is the secret part
of a real webhook URL, and a demo should show the same discipline as the bot.

    catcher = WebhookCatcher()
    url = catcher.start()          # http://127.0.0.1:<port>/services/T00000000/B00000000/<token>
    ...                            # put `url` in the SSM SecureString, run the bot
    for payload in catcher.messages:
        print(render(payload))
    catcher.stop()
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.loopback import LoopbackServer

WEBHOOK_PATH = "/services/T00000000/B00000000/catcher-token-not-a-secret"


@dataclass(frozen=True)
class Reply:
    """One planned answer: status, headers and body (Slack answers `ok` with 200)."""

    status: int = 200
    body: str = "ok"
    headers: dict[str, str] = field(default_factory=dict)


class WebhookCatcher:
    """Records Slack webhook posts on 127.0.0.1; thread-safe; `start()` returns the URL to post to."""

    def __init__(self, path: str = WEBHOOK_PATH) -> None:
        self.path = path
        self.messages: list[dict[str, Any]] = []
        self.requests = 0
        self._replies: list[Reply] = []
        self._lock = threading.Lock()
        self._server: LoopbackServer | None = None

    def reply_with(self, *replies: Reply) -> None:
        """Queue answers for the next requests; once they are used up, every request gets 200 `ok`."""
        with self._lock:
            self._replies.extend(replies)

    def start(self) -> str:
        """Listen on a free loopback port in a daemon thread; returns the webhook URL."""
        catcher = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                reply = catcher._record(self.path, raw)
                body = reply.body.encode()
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                """Silent: the request line holds the webhook path, which is the secret."""

        self._server = LoopbackServer(Handler, "webhook-catcher")
        self._server.start()
        return self.url

    @property
    def url(self) -> str:
        """The webhook URL, once started."""
        if self._server is None:
            raise RuntimeError("catcher not started")
        return f"http://127.0.0.1:{self._server.port}{self.path}"

    def stop(self) -> None:
        """Stop listening and free the port."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    def _record(self, path: str, raw: bytes) -> Reply:
        with self._lock:
            self.requests += 1
            reply = self._replies.pop(0) if self._replies else Reply()
            if path != self.path:
                return Reply(404, "no_service")
            if reply.status == 200:
                self.messages.append(json.loads(raw or b"{}"))
            return reply


@contextmanager
def catching(*replies: Reply, path: str = WEBHOOK_PATH) -> Iterator[WebhookCatcher]:
    """A started catcher for the length of a `with` block, answering `replies` first."""
    catcher = WebhookCatcher(path)
    catcher.reply_with(*replies)
    catcher.start()
    try:
        yield catcher
    finally:
        catcher.stop()


# ---------------------------------------------------------------------------------------- render

_EMOJI = {
    ":lock:": "🔒",
    ":unlock:": "🔓",
    ":rotating_light:": "🚨",
    ":hourglass_flowing_sand:": "⏳",
    ":hourglass:": "⌛",
    ":white_check_mark:": "✅",
    ":calendar:": "📅",
    ":key:": "🔑",
    ":warning:": "⚠️",
    ":grey_question:": "❔",
    ":x:": "❌",
    ":bar_chart:": "📊",
}
_LINK = re.compile(r"<([^<>|]+)\|([^<>]+)>")
_BARE = re.compile(r"<([^<>|]+)>")
_BOLD = re.compile(r"\*([^*\n]+)\*")
_ITALIC = re.compile(r"(?<![\w`])_\(([^()\n]+)\)_(?!\w)")


def render(payload: dict[str, Any]) -> str:
    """A Block Kit payload as a person would read it in Slack, for a terminal."""
    lines: list[str] = []
    for block in payload.get("blocks", []):
        kind = block.get("type")
        if kind == "header":
            title = _mrkdwn(block["text"]["text"])
            lines += [title, "═" * min(len(title), 72)]
        elif kind == "section":
            lines += _section(block)
        elif kind == "context":
            lines += ["  " + _mrkdwn(e.get("text", "")) for e in block.get("elements", [])]
        elif kind == "divider":
            lines.append("─" * 72)
    if not lines:
        lines.append(_mrkdwn(payload.get("text", "")))
    return "\n".join(lines)


def _section(block: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    if "text" in block:
        lines += _mrkdwn(block["text"]["text"]).splitlines()
    for item in block.get("fields", []):
        label, _, value = _mrkdwn(item["text"]).partition("\n")
        lines.append(f"{label}: {value}")
    return lines


def _mrkdwn(text: str) -> str:
    """Links as `label (url)`, bold unmarked, known emoji drawn, and Slack's three entities decoded last."""
    text = _LINK.sub(lambda m: f"{m.group(2)} ({m.group(1)})", text)
    text = _BARE.sub(lambda m: m.group(1), text)
    text = _BOLD.sub(lambda m: m.group(1), text)
    text = _ITALIC.sub(lambda m: f"({m.group(1)})", text)
    for code, glyph in _EMOJI.items():
        text = text.replace(code, glyph)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


# -------------------------------------------------------------------------------------- SNS → SQS


def read_sqs_messages(sqs_client: Any, queue_url: str) -> list[dict[str, Any]]:
    """Drain an SQS queue subscribed to the topic; each item is {message, attributes, subject, raw}.

    Works for both subscription styles: with raw delivery off the body is SNS's JSON envelope
    (attributes as {"Type", "Value"}); with it on the body is the message itself and the attributes
    are SQS message attributes ({"DataType", "StringValue"}).
    """
    out: list[dict[str, Any]] = []
    while True:
        response = sqs_client.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=0
        )
        batch = response.get("Messages", [])
        if not batch:
            return out
        for message in batch:
            out.append(_decode(message))
            sqs_client.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def _decode(message: dict[str, Any]) -> dict[str, Any]:
    body = json.loads(message["Body"])
    if isinstance(body, dict) and body.get("Type") == "Notification" and "Message" in body:
        return {
            "message": json.loads(body["Message"]),
            "attributes": {k: v["Value"] for k, v in body.get("MessageAttributes", {}).items()},
            "subject": body.get("Subject"),
            "raw": False,
        }
    return {
        "message": body,
        "attributes": {k: v.get("StringValue") for k, v in message.get("MessageAttributes", {}).items()},
        "subject": None,
        "raw": True,
    }


_WOULD = {"quarantined": "would be quarantined", "released": "would be released"}


def headline(message: dict[str, Any]) -> str:
    """What happened, in the message's own terms: in report mode what *would* have happened.

    The `type` of a report-mode finding is what enforce mode would do (`quarantined`), so a line
    that showed only the type would claim a quarantine that never happened; `action` says
    `would-quarantine`, and the line leads with that.
    """
    kind, action = str(message["type"]), str(message.get("action", "none"))
    if not action.startswith("would-"):
        return kind
    return _WOULD.get(kind, f"{kind}, would {action.removeprefix('would-')}")


def render_sns(item: dict[str, Any]) -> str:
    """One SNS message read back from SQS, as one line: severity, what happened, user, reason."""
    message = item["message"]
    who = message.get("user") or "(account)"
    mode = " (report mode: nothing changed)" if message.get("mode") == "report" else ""
    severity = item["attributes"].get("severity", "?")
    return f"[{severity:>8}] {headline(message):<22} {who:<24} {message['reason']}{mode}"
