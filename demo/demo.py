"""`make demo`: HotDash-shaped services on 127.0.0.1, one turning unhealthy, and a chat sink.

Runs the quick tier eight times with `healthwatch run --alert`, so an incident is triggered
after three failed attempts and resolved when the MCP service recovers; the chat sink
prints what Slack and Discord would show. Everything it starts, it stops.
"""

from __future__ import annotations

import json
import sys
import tempfile
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from healthwatch.cli import main as healthwatch

RUNS = 8
UNHEALTHY_RUNS = range(3, 6)  # the MCP service fails in runs 3, 4 and 5
TOOLS = ("query_support", "refresh_index", "insight_report")


class World:
    run = 0
    started = time.time()


def agent_health() -> tuple[int, dict[str, Any]]:
    return 200, {
        "status": "ok",
        "service": "agent-service",
        "version": "1.4.2",
        "uptime": round(time.time() - World.started, 1),
    }


def mcp_health() -> tuple[int, dict[str, Any]]:
    broken = World.run in UNHEALTHY_RUNS
    metrics = {t: {"calls": 120, "errors": 0, "errorRate": 0.0} for t in TOOLS}
    if broken:
        metrics["query_support"] = {"calls": 120, "errors": 31, "errorRate": 0.258}
    return (503 if broken else 200), {
        "status": "degraded" if broken else "ok",
        "service": "llamaindex-rag-mcp",
        "tools": list(TOOLS),
        "metrics": metrics,
    }


def chat_line(path: str, payload: dict[str, Any]) -> str:
    if path.startswith("/slack"):
        texts = [b["text"]["text"] for b in payload.get("blocks", []) if "text" in b]
        return "  [slack]   " + " | ".join(t.replace("\n", " ")[:110] for t in texts[:2])
    embed = (payload.get("embeds") or [{}])[0]
    return f"  [discord] {embed.get('title', '')} (colour #{embed.get('color', 0):06x})"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self, status: int, body: Any) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/agent/health":
            self._answer(*agent_health())
        elif self.path == "/mcp/health":
            self._answer(*mcp_health())
        else:
            self._answer(404, {"error": "not found"})

    def do_POST(self) -> None:
        payload = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        print(chat_line(self.path, payload), flush=True)
        if self.path.startswith("/slack"):
            self._answer(200, b"ok")
        else:
            self._answer(200, {"id": "1", "channel_id": "2", "embeds": payload.get("embeds", [])})


def config(base: str) -> str:
    return textwrap.dedent(f"""
        defaults: {{timeout: 2s, failure_threshold: 3, retry_interval: 300ms, reminder_interval: 0}}
        tiers: {{quick: {{schedule: rate(15 minutes), deadline: 30s}}}}
        checks:
          - id: agent-service
            name: Agent SDK Service
            tier: quick
            url: {base}/agent/health
            conditions: ["[STATUS] == 200", "[BODY].status == ok", "[BODY].service == agent-service"]
            warnings: ["[RESPONSE_TIME] < 500"]
          - id: llamaindex-mcp
            name: LlamaIndex MCP Service
            tier: quick
            url: {base}/mcp/health
            conditions:
              - "[STATUS] == 200"
              - "[BODY].status == ok"
              - "len([BODY].tools) >= 3"
              - "[BODY].metrics.query_support.errorRate <= 0.01"
        notifications:
          slack: {{webhook_url: "{base}/slack/services/T000/B000/demo"}}
          discord: {{webhook_url: "{base}/discord/api/webhooks/1/demo"}}
    """)


def main() -> int:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with tempfile.TemporaryDirectory(prefix="healthwatch-demo-") as tmp:
            cfg = Path(tmp) / "checks.yaml"
            cfg.write_text(config(base))
            print(f"demo services and chat sink on {base}; data in {tmp}")
            for n in range(1, RUNS + 1):
                World.run = n
                state = "unhealthy" if n in UNHEALTHY_RUNS else "healthy"
                print(f"\n=== run {n}/{RUNS}: the MCP service is {state} ===", flush=True)
                healthwatch(
                    ["run", "--tier", "quick", "--config", str(cfg), "--data-dir", tmp, "--alert"]
                )
                sys.stdout.flush()
            alerts = (Path(tmp) / "alerts.jsonl").read_text().splitlines()
            events = [json.loads(line)["event"] for line in alerts]
            print(f"\nalerts recorded: {events} (alerts.jsonl)")
    finally:
        server.shutdown()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
