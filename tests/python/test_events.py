"""The sample events of `lambda-ls event` against an independent definition of each trigger's
event: aws-lambda-powertools' Pydantic parser models (which reject a missing or mistyped field,
decode Kinesis base64 and the gzipped CloudWatch Logs payload) and its data classes."""
import json
import os
import subprocess

import pytest
from aws_lambda_powertools.utilities import data_classes as dc
from aws_lambda_powertools.utilities.parser import models as m

BIN = os.environ.get("LAMBDA_LS_BIN", os.path.join(os.path.dirname(__file__), "../../target/debug/lambda-ls"))

# trigger -> (parser model, data class, one field read through the data class)
DEFINITIONS = {
    "apigateway-rest": (m.APIGatewayProxyEventModel, dc.APIGatewayProxyEvent, lambda e: e.request_context.stage),
    "apigateway-http": (m.APIGatewayProxyEventV2Model, dc.APIGatewayProxyEventV2, lambda e: e.request_context.http.method),
    "function-url": (m.LambdaFunctionUrlModel, dc.LambdaFunctionUrlEvent, lambda e: e.request_context.http.method),
    "alb": (m.AlbModel, dc.ALBEvent, lambda e: e.request_context.elb_target_group_arn),
    "s3-put": (m.S3Model, dc.S3Event, lambda e: e.object_key),
    "sqs": (m.SqsModel, dc.SQSEvent, lambda e: next(e.records).body),
    "sns": (m.SnsModel, dc.SNSEvent, lambda e: e.sns_message),
    "eventbridge": (m.EventBridgeModel, dc.EventBridgeEvent, lambda e: e.detail_type),
    "eventbridge-schedule": (m.EventBridgeModel, dc.EventBridgeEvent, lambda e: e.detail_type),
    "dynamodb-stream": (m.DynamoDBStreamModel, dc.DynamoDBStreamEvent, lambda e: next(e.records).dynamodb.new_image),
    "kinesis": (m.KinesisDataStreamModel, dc.KinesisStreamEvent, lambda e: next(e.records).kinesis.data_as_json()),
    "cloudwatch-logs": (m.CloudWatchLogsModel, dc.CloudWatchLogsEvent, lambda e: e.parse_logs_data().log_events[0].message),
}


def cli(*args):
    out = subprocess.run([BIN, "event", *args], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout


def catalog():
    return json.loads(cli("--list", "--json"))


def test_every_trigger_the_issue_names_is_in_the_catalog():
    names = {t["name"] for t in catalog()}
    assert names == set(DEFINITIONS) | {"direct"}


@pytest.mark.parametrize("name", sorted(DEFINITIONS))
def test_template_is_what_the_trigger_sends(name):
    model, data_class, read = DEFINITIONS[name]
    event = json.loads(cli(name))
    parsed = model.model_validate(event)
    assert read(data_class(event)) not in (None, "", {})
    # The model is strict enough to notice a template that lost a field the trigger always sends.
    required = [k for k, f in model.model_fields.items() if f.is_required()]
    assert required, f"{model.__name__} requires nothing, so it checks nothing"
    broken = dict(event)
    del broken[model.model_fields[required[0]].alias or required[0]]
    with pytest.raises(Exception):
        model.model_validate(broken)
    if name == "cloudwatch-logs":
        assert parsed.awslogs.decoded_data.logEvents, "the gzipped payload decodes to log events"
    if name == "eventbridge-schedule":
        assert event["source"] == "aws.events" and event["detail-type"] == "Scheduled Event"


def test_direct_invoke_is_any_json_object():
    assert isinstance(json.loads(cli("direct")), dict)


def test_out_writes_a_new_file_and_never_overwrites(tmp_path):
    target = tmp_path / "events" / "queue.json"
    cli("sqs", "--out", str(target))
    assert m.SqsModel.model_validate(json.loads(target.read_text()))
    again = subprocess.run([BIN, "event", "sqs", "--out", str(target)], capture_output=True, text=True, timeout=30)
    assert again.returncode == 2 and "already exists" in again.stderr


def test_unknown_trigger_is_one_sentence():
    out = subprocess.run([BIN, "event", "carrier-pigeon"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 2
    assert out.stderr.strip() == "error: there is no sample event for `carrier-pigeon`; `lambda-ls event --list` shows the triggers"
