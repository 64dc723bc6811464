"""Clients no one here wrote against `lambda-ls local serve`: boto3, and the lambda-ls CLI
sharing the running server instead of starting its own on the same data directory."""
import base64
import io
import json
import os
import re
import subprocess
import zipfile

import boto3
import pytest

BIN = os.environ.get("LAMBDA_LS_BIN", os.path.join(os.path.dirname(__file__), "../../target/debug/lambda-ls"))
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))


@pytest.fixture
def server(tmp_path):
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "LAMBDA_LS_LOCAL_DIR": str(tmp_path / "local"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    proc = subprocess.Popen([BIN, "local", "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert match, f"no endpoint in {line!r}"
        yield match.group(0), env
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def client(endpoint):
    return boto3.client(
        "lambda",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="anything",
        aws_secret_access_key="anything",
    )


def handler_zip():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("app.py", "def handler(event, context):\n    print('hello from', context.function_name)\n    return {'sum': event['a'] + event['b']}\n")
    return buf.getvalue()


def test_boto3_create_invoke_and_log_tail(server):
    endpoint, _ = server
    lam = client(endpoint)
    lam.create_function(
        FunctionName="boto",
        Runtime="python3.12",
        Role="arn:aws:iam::000000000000:role/any",
        Handler="app.handler",
        Code={"ZipFile": handler_zip()},
    )
    lam.get_waiter("function_active_v2").wait(FunctionName="boto", WaiterConfig={"Delay": 1, "MaxAttempts": 20})
    out = lam.invoke(FunctionName="boto", Payload=json.dumps({"a": 2, "b": 40}), LogType="Tail")
    assert out["StatusCode"] == 200
    assert "FunctionError" not in out
    assert json.loads(out["Payload"].read()) == {"sum": 42}
    tail = base64.b64decode(out["LogResult"]).decode()
    assert "hello from boto" in tail
    assert re.search(r"REPORT RequestId: \S+\tDuration: [\d.]+ ms", tail), tail
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName="missing")


def test_cli_shares_the_running_server(server):
    endpoint, env = server
    out = subprocess.run(
        [BIN, "deploy", "examples/hello/handler.py:handler", "--name", "shared", "--profile", "local", "--json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["deploy"]["target"]["endpoint"] == endpoint
    result = client(endpoint).invoke(FunctionName="shared", Payload=json.dumps({"name": "boto"}))
    assert json.loads(result["Payload"].read())["body"] == "Hello, boto!"
