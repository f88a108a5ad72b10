"""`make invoke-local TIER=quick`: run a handler in-process against the stack in a local moto.

The stack is template.yaml, translated and created in moto as the tests do; the handler is
imported from its file, as Lambda imports it, and given a sample event from events/.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
import uuid
from pathlib import Path

from tests.fakes.moto_server import ROOT, MotoServer, deploy_stack


class Context:
    function_name = "healthwatch-local"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:healthwatch-local"
    aws_request_id = str(uuid.uuid4())

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 300_000


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="invoke_local", description=__doc__)
    p.add_argument("--tier", default="quick")
    p.add_argument("--event", help="event file (default events/schedule-<tier>.json)")
    p.add_argument("--handler", default="functions/run_tier/app.py")
    p.add_argument("--config", default=os.environ.get("CHECKS_CONFIG", "checks.yaml"))
    args = p.parse_args(argv)
    event_path = Path(args.event or ROOT / "events" / f"schedule-{args.tier}.json")

    server = MotoServer().start()
    try:
        started = time.monotonic()
        stack = deploy_stack(server, "healthwatch")
        print(
            f"moto on {server.url}: stack created in {time.monotonic() - started:.1f}s",
            file=sys.stderr,
        )
        os.environ.update({**server.env(), **stack.env(), "CHECKS_CONFIG": args.config})
        spec = importlib.util.spec_from_file_location("handler", ROOT / args.handler)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        event = json.loads(event_path.read_text(encoding="utf-8"))
        try:
            response = module.handler(event, Context())
        except Exception as exc:  # show what Lambda would record as the error
            print(f"handler raised {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
        print(json.dumps(response, indent=2))
        s3 = server.client("s3")
        listed = s3.list_objects_v2(Bucket=stack.outputs["ResultsBucket"]).get("Contents", [])
        for obj in listed:
            print(f"s3://{stack.outputs['ResultsBucket']}/{obj['Key']}", file=sys.stderr)
        return 0
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
