"""A real HTTP proxy on the loopback in front of Azurite that injects storage faults.

The app's client talks HTTP to it exactly as to Table Storage; a `fault` function decides per request
whether to forward it, answer an error status itself (as an overloaded partition does: 503 ServerBusy,
500 OperationTimedOut, 429), drop the connection before forwarding (the server never saw it), or
forward and then drop the connection (the write happened but its answer was lost).
"""

from __future__ import annotations

import http.client
import json
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

FORWARD = "forward"
DROP = "drop"  # close the connection without an answer, request not forwarded
LOST_ANSWER = "lost-answer"  # forward, then close the connection without relaying the answer
# Error codes Table Storage sends with these statuses.
ERROR_CODES = {503: "ServerBusy", 500: "OperationTimedOut", 429: "TooManyRequests"}
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # unquoted, without the query string
    time: float


@dataclass(frozen=True)
class Seen:
    request: Request
    action: str | int | tuple[int, str]


# What to do with a request: FORWARD, DROP, LOST_ANSWER, an HTTP status to answer with, or a status and
# the error code to send with it (e.g. (403, "AuthorizationPermissionMismatch")).
Fault = Callable[[Request], str | int | tuple[int, str]]


class FaultProxy:
    """Forward to 127.0.0.1:`upstream_port`; `fault` may be swapped at any time."""

    def __init__(self, upstream_port: int, fault: Fault | None = None) -> None:
        self.upstream_port = upstream_port
        self.fault: Fault = fault or (lambda request: FORWARD)
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def via(self, connection_string: str) -> str:
        """The connection string with the proxy in place of Azurite."""
        return connection_string.replace(f":{self.upstream_port}/", f":{self.port}/")

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _record(self, request: Request, action: str | int | tuple[int, str]) -> None:
        with self._lock:
            self.seen.append(Seen(request, action))

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            upstream: http.client.HTTPConnection | None = None

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet
                pass

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                request = Request(self.command, unquote(self.path.split("?", 1)[0]), time.monotonic())
                action = proxy.fault(request)
                proxy._record(request, action)
                if isinstance(action, int):
                    return self._answer_error(action)
                if isinstance(action, tuple):
                    return self._answer_error(*action)
                if action == DROP:
                    return self._drop()
                answer = self._forward(body)
                if answer is None or action == LOST_ANSWER:
                    return self._drop()
                status, reason, headers, payload = answer
                self.send_response(status, reason)
                for name, value in headers:
                    if name.lower() not in _HOP_BY_HOP:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _forward(self, body: bytes) -> tuple[int, str, list[tuple[str, str]], bytes] | None:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                for attempt in range(2):  # a kept-alive upstream connection may have gone stale
                    try:
                        if self.upstream is None:
                            self.upstream = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=30)
                        self.upstream.request(self.command, self.path, body=body, headers=headers)
                        response = self.upstream.getresponse()
                        return response.status, response.reason, response.getheaders(), response.read()
                    except (OSError, http.client.HTTPException):
                        if self.upstream is not None:
                            self.upstream.close()
                        self.upstream = None
                        if attempt:
                            break
                return None  # upstream is down: to the client, a dead server

            def _answer_error(self, status: int, code: str | None = None) -> None:
                code = code or ERROR_CODES.get(status, "InternalError")
                payload = json.dumps({"odata.error": {"code": code, "message": {
                    "lang": "en-US", "value": f"Injected by FaultProxy: {code}"}}}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json;odata=minimalmetadata")
                self.send_header("x-ms-error-code", code)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _drop(self) -> None:
                self.close_connection = True
                # Linger 0: closing sends RST, so the client sees the connection reset, as when a server dies.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_MERGE = do_HEAD = _handle

        return Handler
