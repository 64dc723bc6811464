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
    proc = subprocess.Popen([BIN, "local", "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert match, f"no endpoint in {line!r}"
        env["hint"] = proc.stderr.readline()
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


def test_the_printed_settings_reach_an_aws_iam_function_url(server):
    """What `local serve` tells a user to set works for every call, signed function URLs too."""
    endpoint, env = server
    settings = dict(re.findall(r"(AWS_[A-Z_]+)=(\S+?)[;\s]", env["hint"]))
    assert settings["AWS_ENDPOINT_URL"] == endpoint, env["hint"]
    key, secret, region = settings["AWS_ACCESS_KEY_ID"], settings["AWS_SECRET_ACCESS_KEY"], settings["AWS_REGION"]
    lam = boto3.client("lambda", endpoint_url=endpoint, region_name=region,
                       aws_access_key_id=key, aws_secret_access_key=secret)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("app.py", "import json\n\ndef handler(event, context):\n"
                   "    who = event['requestContext']['authorizer']['iam']['accessKey']\n"
                   "    return {'statusCode': 200, 'body': json.dumps({'key': who, 'got': json.loads(event['body'])})}\n")
    lam.create_function(FunctionName="private", Runtime="python3.12", Role="arn:aws:iam::000000000000:role/any",
                        Handler="app.handler", Code={"ZipFile": buf.getvalue()})
    lam.get_waiter("function_active_v2").wait(FunctionName="private")
    url = lam.create_function_url_config(FunctionName="private", AuthType="AWS_IAM")["FunctionUrl"]

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    import urllib.request
    req = AWSRequest(method="POST", url=url, data=json.dumps({"a": 2, "b": 3}).encode(),
                     headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(key, secret), "lambda", region).add_auth(req)
    signed = urllib.request.Request(req.url, data=req.body, headers=dict(req.headers.items()), method="POST")
    with urllib.request.urlopen(signed, timeout=30) as resp:
        assert resp.status == 200
        assert json.loads(resp.read()) == {"key": key, "got": {"a": 2, "b": 3}}


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
