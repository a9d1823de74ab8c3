"""The receivers an alert is delivered to, run by the tests on loopback: a chat webhook
(`http.server` in a thread, answering with the statuses a test sets, so it can be down and
come back) and a real SMTP server (aiosmtpd) keeping every message it accepts."""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

SECRET = "xoxb-9f3c1d2e7a"
"""Part of the webhook's URL, as in a real chat webhook: it must never be shown."""


class WebhookReceiver:
    """Answers each post with the next of `statuses` (the last one answers every later post)
    and keeps every body it was sent, accepted or not."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses: list[int] = statuses or [200]
        self.posts: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.posts.append(json.loads(body))
                statuses = receiver.statuses
                status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/{SECRET}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def posts_of(self, alert_id: str) -> list[dict[str, Any]]:
        return [p for p in self.posts if p["alert"]["id"] == alert_id]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass(frozen=True)
class Mail:
    sender: str
    recipients: tuple[str, ...]
    message: Message

    @property
    def subject(self) -> str:
        return " ".join(str(self.message["Subject"]).split())  # unfolded

    @property
    def body(self) -> str:
        payload = self.message.get_payload(decode=True)
        return payload.decode() if isinstance(payload, bytes) else str(payload)


class Mailbox:
    """A real SMTP server on loopback (aiosmtpd), keeping every message it accepts."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.mails: list[Mail] = []
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        self.mails.append(
            Mail(
                envelope.mail_from,
                tuple(envelope.rcpt_tos),
                message_from_bytes(envelope.original_content or envelope.content),
            )
        )
        return "250 Message accepted for delivery"

    def stop(self) -> None:
        self.controller.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
