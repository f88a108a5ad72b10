"""One warm "container" of a fake Lambda function: `python lambda_worker.py HANDLER_FILE`.

Imports the handler file once (its cold start), then reads one JSON line per invocation
from stdin, `{"event", "request_id", "function_arn", "timeout_ms"}`, calls `handler(event,
context)` and writes one JSON line: `{"ok": answer}` or `{"error": {"errorType",
"errorMessage"}}`, as Lambda's runtime reports an unhandled exception.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
import traceback
from typing import Any


class Context:
    def __init__(self, request: dict[str, Any]) -> None:
        self.aws_request_id = request["request_id"]
        self.invoked_function_arn = request["function_arn"]
        self.function_name = request["function_arn"].rsplit(":", 1)[-1]
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 512
        self._deadline = time.monotonic() + request["timeout_ms"] / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def main() -> None:
    out = sys.stdout
    sys.stdout = sys.stderr  # the handler's log lines go to the log, not the protocol
    spec = importlib.util.spec_from_file_location("lambda_function", sys.argv[1])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    for line in sys.stdin:
        request = json.loads(line)
        try:
            answer = {"ok": module.handler(request["event"], Context(request))}
        except Exception as exc:  # reported as Lambda reports an unhandled exception
            answer = {
                "error": {
                    "errorType": type(exc).__name__,
                    "errorMessage": str(exc),
                    "stackTrace": traceback.format_tb(exc.__traceback__)[-3:],
                }
            }
        out.write(json.dumps(answer, default=str) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
