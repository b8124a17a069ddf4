"""A local OpenAI-compatible teacher on 127.0.0.1, for tests, benchmarks and dry runs of a hint pipeline.

`POST /v1/chat/completions` answers, after `latency_s`, with a well-formed tagged teacher answer (4
numbered items per section, naming the problem), or with the next scripted reply: an HTTP error, a
malformed answer, a body without choices. It counts requests in flight, so a test can check that a
client really overlaps its requests without timing anything. Stdlib only (`http.server`).

    with FakeTeacherServer(latency_s=0.5) as server:
        OpenAITeacher(server.url, "fake").complete(prompt)
"""
from __future__ import annotations

import http.server
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FakeTeacherServer", "Reply", "tagged_answer"]


def tagged_answer(question: str, n_items: int = 4) -> str:
    """A teacher answer that `parse_teacher_output` accepts and `validate_tiers` passes."""
    def section(tag: str, word: str) -> str:
        items = "\n".join(f"{i}. {word} {i} for: {question}" for i in range(1, n_items + 1))
        return f"<{tag}>\n{items}\n</{tag}>"

    return "\n".join([section("KNOWLEDGE_COMPONENTS", "Concept"), section("PLANNING_SKELETON", "Step"),
                      section("SOLUTION_BREAKDOWN", "Compute")])


def _question(prompt: str) -> str:
    match = re.search(r"Problem:\n(.*?)\n", prompt)
    return match.group(1) if match else prompt[:80]


@dataclass
class Reply:
    """A scripted answer: HTTP `status` with `content` as the message (200) or as the error message,
    or a raw JSON `body` instead; `headers` are added (e.g. {"retry-after-ms": "1"})."""

    status: int = 200
    content: str | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class FakeTeacherServer:
    """`answer(prompt)` gives the reply to each unscripted request: the message text, or a `Reply`
    (so one problem can get a malformed answer or an error). Default: `tagged_answer` for the problem."""

    def __init__(self, latency_s: float = 0.0, answer: Callable[[str], str | Reply] | None = None) -> None:
        self.latency_s = latency_s
        self.answer = answer or (lambda prompt: tagged_answer(_question(prompt)))
        self.replies: list[Reply] = []  # consumed first, in order, then `answer` for every request
        self.requests: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self.httpd = _Server(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    def __enter__(self) -> FakeTeacherServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def reset_counts(self) -> None:
        with self._lock:
            self.requests.clear()
            self.max_in_flight = 0

    def _serve(self, path: str, body: dict[str, Any], auth: str | None) -> tuple[Reply, dict[str, Any]]:
        with self._lock:
            self.requests.append({"path": path, "body": body, "auth": auth})
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            reply = self.replies.pop(0) if self.replies else None
        try:
            time.sleep(self.latency_s)
            if reply is None:
                answer = self.answer(body["messages"][-1]["content"])
                reply = answer if isinstance(answer, Reply) else Reply(content=answer)
            if reply.body is not None:
                return reply, reply.body
            if reply.status != 200:
                return reply, {"error": {"message": reply.content or f"HTTP {reply.status}", "type": "fake"}}
            return reply, {
                "id": f"chatcmpl-{len(self.requests)}", "object": "chat.completion", "created": int(time.time()),
                "model": body.get("model", "fake"),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": reply.content},
                             "finish_reason": "stop"}],
            }
        finally:
            with self._lock:
                self.in_flight -= 1


class _Server(http.server.ThreadingHTTPServer):
    # The default listen backlog (5) drops connections when many clients connect at once, and a
    # dropped SYN costs a 1 s retransmit: that would be measured as teacher latency.
    request_queue_size = 256


def _handler(server: FakeTeacherServer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real server

        def do_POST(self) -> None:  # noqa: N802 (http.server naming)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if not self.path.endswith("/chat/completions"):
                reply, payload = Reply(404), {"error": {"message": f"no route {self.path}"}}
            else:
                reply, payload = server._serve(self.path, body, self.headers.get("Authorization"))
            data = json.dumps(payload).encode()
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    return Handler
