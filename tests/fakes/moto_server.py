"""A moto server on 127.0.0.1, and `template.yaml` translated offline and deployed into it.

The translation is the one `sam deploy` asks CloudFormation for: samtranslator, with the
code locations (`CodeUri`, `ContentUri`) rewritten to zips uploaded to the server first.
What moto leaves out of the stack is listed in `MOTO_GAPS` and made up by `fill_gaps`.
"""

from __future__ import annotations

import io
import json
import logging
import re
import urllib.request
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
PROBE_TEMPLATE = ROOT / "template-probe.yaml"
REGION = "us-east-1"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}
# What moto 5 does not do with the stack, and what `fill_gaps` does about it.
MOTO_GAPS = {
    "AWS::Scheduler::Schedule": "not created by moto's CloudFormation: the tests invoke the "
    "handler with the schedule's input (events/schedule-*.json) instead",
    "AWS::SNS::Subscription": "not created by moto's CloudFormation (neither the email nor "
    "the chat function's): the tests subscribe their own SQS queues, and give the chat "
    "handler the SNS records of events/",
    "AWS::Lambda::EventInvokeConfig": "not created: retries and destinations are checked "
    "in the template",
    "AWS::CloudWatch::Alarm": "not created: the alarms are checked in the template against "
    "the metrics the run-tier function prints",
    "AWS::CloudWatch::Dashboard": "left out with the alarms it names",
    "AWS::Glue::Database": "not created: the Athena table is checked in the template",
    "AWS::Glue::Table": "not created: the Athena table is checked in the template",
    "AWS::Athena::NamedQuery": "not created: the queries are checked in the template",
    "AWS::S3::BucketPolicy": "not created, and not applied by fill_gaps: moto enforces its "
    "TLS-only deny, and moto's endpoint is plain HTTP. test_aws_stack puts it on a scratch "
    "bucket to show that it denies plain HTTP",
    "TimeToLiveSpecification": "ignored by moto's CloudFormation (and moto never expires "
    "items): fill_gaps enables TTL with UpdateTimeToLive; tests check expires_at itself",
    "PointInTimeRecoverySpecification": "ignored: fill_gaps calls UpdateContinuousBackups",
    "S3 bucket properties": "PublicAccessBlockConfiguration, OwnershipControls and "
    "LifecycleConfiguration are ignored: fill_gaps applies them from the template",
    "Layers": "dropped from functions by moto's CloudFormation (so is Architectures): the "
    "layer version is created, and the handlers run in-process, importing the package "
    "as the layer provides it",
}


def one_dynamodb_call_at_a_time(app: Any) -> Any:
    """moto's DynamoDB is not safe for concurrent writers: TransactWriteItems deep-copies
    the table while other request threads change it ("dictionary changed size during
    iteration", a 500). DynamoDB itself is, so the server takes its calls one at a time
    (shards in separate processes write the one table at once)."""
    import threading

    lock = threading.Lock()

    def serve(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            with lock:
                return list(app(environ, start_response))
        return app(environ, start_response)

    return serve


class MotoServer:
    """`moto.server.ThreadedMotoServer` on 127.0.0.1 and a free port; start, stop, reset."""

    def __init__(self) -> None:
        from moto.moto_server import threaded_moto_server
        from moto.server import ThreadedMotoServer

        class Server(ThreadedMotoServer):
            def _server_entry(self) -> None:
                from werkzeug.serving import make_server

                app = threaded_moto_server.DomainDispatcherApplication(
                    threaded_moto_server.create_backend_app
                )
                self._server = make_server(
                    self._ip_address,
                    self._port,
                    one_dynamodb_call_at_a_time(app),
                    True,
                    request_handler=threaded_moto_server.MotoRequestHandler,
                )
                self._server_ready_event.set()
                self._server.serve_forever()

        self._server = Server(ip_address="127.0.0.1", port=0, verbose=False)
        self.url = ""
        self._session: Any = None

    def start(self) -> MotoServer:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
        logging.getLogger("moto").setLevel(logging.ERROR)  # "no support for ...": MOTO_GAPS
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        self._server.stop()

    def reset(self) -> None:
        """Forget every resource (moto's reset API)."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            response.read()

    def env(self) -> dict[str, str]:
        """The variables that point boto3 (and so the package) at this server."""
        return {"AWS_ENDPOINT_URL": self.url, **CREDENTIALS}

    def client(self, service: str, region: str = REGION) -> Any:
        """A client of this server (one boto3 session: service models are loaded once)."""
        import boto3

        if self._session is None:
            self._session = boto3.session.Session(
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                aws_session_token="testing",
                region_name=REGION,
            )
        return self._session.client(service, endpoint_url=self.url, region_name=region)


# -- the template ------------------------------------------------------------------------------


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """The SAM template as plain JSON-able data (short-form tags become `Fn::` keys)."""
    from cfnlint.decode import decode_str

    template, errors = decode_str(path.read_text(encoding="utf-8"))
    if errors or template is None:
        raise ValueError(f"{path}: {errors}")
    plain: dict[str, Any] = json.loads(json.dumps(template))
    return plain


def code_locations(sam: Mapping[str, Any]) -> dict[str, str]:
    """Logical id -> local directory of each function's and layer's code."""
    out = {}
    for logical_id, resource in sam["Resources"].items():
        props = resource.get("Properties", {})
        uri = props.get("CodeUri") or props.get("ContentUri")
        if isinstance(uri, str):
            out[logical_id] = uri
    return out


def translate(
    sam: Mapping[str, Any],
    parameters: Mapping[str, str] | None = None,
    code: Mapping[str, tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """The CloudFormation template `sam deploy` would create, translated offline.

    `code` maps a logical id to the (bucket, key) of its zip; by default a placeholder.
    """
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    template = json.loads(json.dumps(sam))
    for logical_id in code_locations(template):
        bucket, key = (code or {}).get(logical_id, ("deployment-bucket", f"{logical_id}.zip"))
        props = template["Resources"][logical_id]["Properties"]
        name = "CodeUri" if "CodeUri" in props else "ContentUri"
        props[name] = {"Bucket": bucket, "Key": key}
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=REGION))
    translated: dict[str, Any] = translator.translate(
        template, parameter_values=dict(parameters or {}), get_managed_policy_map=lambda: {}
    )
    return json.loads(json.dumps(translated))


def lint(template: Mapping[str, Any] | str) -> list[str]:
    """cfn-lint's findings (errors and warnings) on a template given as data or YAML text."""
    from cfnlint.api import lint as cfn_lint

    text = template if isinstance(template, str) else json.dumps(template)
    return [f"{m.rule.id} {m.message} ({m.linenumber})" for m in cfn_lint(text, regions=[REGION])]


# -- deploying into moto -----------------------------------------------------------------------


def zip_directory(directory: Path, prefix: str = "") -> bytes:
    """A deployment zip of `directory` (a layer's content goes under `python/`)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and ".egg-info" not in str(path):
                archive.write(path, prefix + str(path.relative_to(directory)))
    return buffer.getvalue()


@dataclass
class Stack:
    name: str
    outputs: dict[str, str]
    resources: dict[str, str]  # logical id -> physical id
    template: dict[str, Any] = field(repr=False)  # the whole translated template
    left_out: dict[str, str] = field(default_factory=dict)  # logical id -> why

    def env(self) -> dict[str, str]:
        """The functions' environment, as the template's Globals set it."""
        return {
            "RESULTS_BUCKET": self.outputs["ResultsBucket"],
            "HISTORY_TABLE": self.outputs["HistoryTable"],
            "ALERT_TOPIC_ARN": self.outputs["AlertTopicArn"],
            "IDEMPOTENCY_TABLE": self.outputs["IdempotencyTable"],
            "HISTORY_DAYS": "30",
            "POWERTOOLS_SERVICE_NAME": "healthwatch",
            "POWERTOOLS_METRICS_NAMESPACE": "Healthwatch",
            "HEALTHWATCH_TRACING": "false",
        }


def for_moto(template: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The template without what moto cannot create, and without what refers to that
    (transitively: a dashboard naming an alarm goes with the alarm); and what was left out."""
    from moto.cloudformation.parsing import resource_class_from_type

    resources = template["Resources"]
    left_out = {
        logical_id: resource["Type"]
        for logical_id, resource in resources.items()
        if resource_class_from_type(resource["Type"]) is None
    }
    changed = True
    while changed:
        changed = False
        for logical_id, resource in resources.items():
            if logical_id in left_out:
                continue
            gone = references(resource) & set(left_out)
            if gone:
                left_out[logical_id] = f"{resource['Type']} (refers to {', '.join(sorted(gone))})"
                changed = True
    kept = {k: v for k, v in resources.items() if k not in left_out}
    outputs = {
        k: v for k, v in template.get("Outputs", {}).items() if not references(v) & set(left_out)
    }
    return {**template, "Resources": kept, "Outputs": outputs}, left_out


def references(value: Any) -> set[str]:
    """Logical ids (or parameters) a piece of template refers to: Ref, GetAtt, Sub, DependsOn."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= references(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                found.add(item)
            elif key == "Fn::GetAtt":
                found.add(item[0] if isinstance(item, list) else str(item).split(".")[0])
            elif key == "Fn::Sub":
                text = item[0] if isinstance(item, list) else item
                found |= {m.split(".")[0] for m in re.findall(r"\$\{([^!}][^}]*)\}", text)}
                if isinstance(item, list):
                    found |= references(item[1])
            elif key == "DependsOn":
                found |= set([item] if isinstance(item, str) else item)
            else:
                found |= references(item)
    return found


def deploy_stack(
    server: MotoServer,
    name: str = "healthwatch",
    parameters: Mapping[str, str] | None = None,
    template_path: Path = TEMPLATE,
    region: str = REGION,
) -> Stack:
    """Upload the code, translate the template, `CreateStack` in moto (in `region`), then
    `fill_gaps` (the main template's)."""
    s3 = server.client("s3", region)
    bucket = f"{name}-deployment-{region}"
    if region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    sam = load_template(template_path)
    code = {}
    for logical_id, uri in code_locations(sam).items():
        is_layer = "ContentUri" in sam["Resources"][logical_id]["Properties"]
        body = zip_directory(ROOT / uri, "python/" if is_layer else "")
        s3.put_object(Bucket=bucket, Key=f"{logical_id}.zip", Body=body)
        code[logical_id] = (bucket, f"{logical_id}.zip")
    template = translate(sam, parameters, code)
    creatable, left_out = for_moto(template)
    cfn = server.client("cloudformation", region)
    cfn.create_stack(
        StackName=name,
        TemplateBody=json.dumps(creatable),
        Parameters=[
            {"ParameterKey": k, "ParameterValue": v} for k, v in (parameters or {}).items()
        ],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    described = cfn.describe_stacks(StackName=name)["Stacks"][0]
    resources = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]
        if r["LogicalResourceId"]  # moto lists what it skipped with empty ids
    }
    if described["StackStatus"] != "CREATE_COMPLETE":
        raise RuntimeError(f"stack {name}: {described['StackStatus']}")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    stack = Stack(name, outputs, resources, template, left_out)
    if template_path == TEMPLATE:
        fill_gaps(server, stack)
    return stack


def fill_gaps(server: MotoServer, stack: Stack) -> None:
    """Apply by hand what the template asks for and moto's CloudFormation leaves out."""
    resources = stack.template["Resources"]
    bucket = stack.outputs["ResultsBucket"]
    table = stack.outputs["HistoryTable"]
    refs = {"ResultsBucket": bucket, "ResultsBucket.Arn": f"arn:aws:s3:::{bucket}"}
    props = resources["ResultsBucket"]["Properties"]
    parameters = {k: str(v.get("Default", "")) for k, v in stack.template["Parameters"].items()}

    s3 = server.client("s3")
    s3.put_public_access_block(
        Bucket=bucket, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
    )
    s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls=props["OwnershipControls"])
    rules = []
    for rule in props["LifecycleConfiguration"]["Rules"]:
        api: dict[str, Any] = {
            "ID": rule["Id"],
            "Status": rule["Status"],
            "Filter": {"Prefix": rule.get("Prefix", "")},
        }
        if "Transitions" in rule:
            api["Transitions"] = [
                {"Days": t["TransitionInDays"], "StorageClass": t["StorageClass"]}
                for t in rule["Transitions"]
            ]
        if "ExpirationInDays" in rule:
            api["Expiration"] = {"Days": int(_resolve(rule["ExpirationInDays"], refs, parameters))}
        if "AbortIncompleteMultipartUpload" in rule:
            api["AbortIncompleteMultipartUpload"] = rule["AbortIncompleteMultipartUpload"]
        rules.append(api)
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})

    dynamodb = server.client("dynamodb")
    ttl = resources["HistoryTable"]["Properties"]["TimeToLiveSpecification"]
    dynamodb.update_time_to_live(TableName=table, TimeToLiveSpecification=ttl)
    dynamodb.update_continuous_backups(
        TableName=table,
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
    )


def bucket_policy(stack: Stack, bucket: str) -> dict[str, Any]:
    """The template's bucket policy, written for `bucket`."""
    policy = stack.template["Resources"]["ResultsBucketPolicy"]["Properties"]["PolicyDocument"]
    refs = {"ResultsBucket": bucket, "ResultsBucket.Arn": f"arn:aws:s3:::{bucket}"}
    resolved: dict[str, Any] = _resolve(policy, refs, {})
    return resolved


def _resolve(value: Any, refs: Mapping[str, str], parameters: Mapping[str, str]) -> Any:
    """`Ref`, `Fn::GetAtt` and `Fn::Sub` of the few resources `fill_gaps` needs."""
    if isinstance(value, list):
        return [_resolve(v, refs, parameters) for v in value]
    if not isinstance(value, dict):
        return value
    if "Ref" in value:
        return {**refs, **parameters}[value["Ref"]]
    if "Fn::GetAtt" in value:
        return refs[".".join(value["Fn::GetAtt"])]
    if "Fn::Sub" in value:
        return re.sub(
            r"\$\{([^}]+)\}", lambda m: {**refs, **parameters}[m.group(1)], value["Fn::Sub"]
        )
    return {k: _resolve(v, refs, parameters) for k, v in value.items()}
