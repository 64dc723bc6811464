//! The sample events catalog: one template per trigger, shaped as AWS delivers it.
//!
//! The templates live as JSON files in `server/deploy/events/` so tests outside Rust can check
//! them against independent definitions (aws-lambda-powertools' parser models); a handler's
//! `event` annotation picks its trigger first.

use serde::Serialize;

/// One trigger and the event it sends a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Trigger {
    /// What `lambda-ls event NAME` takes, and the default file name.
    pub name: &'static str,
    pub title: &'static str,
    /// The event, as pretty JSON.
    #[serde(skip)]
    pub template: &'static str,
    /// Type names an `event` parameter is annotated with for this trigger: Powertools data
    /// classes and parser models, aws-lambda-typing's TypedDicts.
    pub types: &'static [&'static str],
}

macro_rules! trigger {
    ($name:literal, $title:literal, [$($ty:literal),* $(,)?]) => {
        Trigger {
            name: $name,
            title: $title,
            template: include_str!(concat!("../events/", $name, ".json")),
            types: &[$($ty),*],
        }
    };
}

/// Every trigger lambda-ls has a template for, in the order menus show them.
pub const CATALOG: &[Trigger] = &[
    trigger!(
        "apigateway-rest",
        "API Gateway REST API (v1 proxy)",
        [
            "APIGatewayProxyEvent",
            "APIGatewayProxyEventModel",
            "APIGatewayProxyEventV1"
        ]
    ),
    trigger!(
        "apigateway-http",
        "API Gateway HTTP API (v2 payload)",
        ["APIGatewayProxyEventV2", "APIGatewayProxyEventV2Model"]
    ),
    trigger!(
        "function-url",
        "Lambda function URL",
        ["LambdaFunctionUrlEvent", "LambdaFunctionUrlModel"]
    ),
    trigger!("alb", "Application Load Balancer", ["ALBEvent", "AlbModel"]),
    trigger!("s3-put", "S3 object created (put)", ["S3Event", "S3Model"]),
    trigger!("sqs", "SQS messages", ["SQSEvent", "SqsModel"]),
    trigger!("sns", "SNS notification", ["SNSEvent", "SnsModel"]),
    trigger!(
        "eventbridge",
        "EventBridge event",
        [
            "EventBridgeEvent",
            "EventBridgeModel",
            "CloudWatchEventsEvent"
        ]
    ),
    trigger!(
        "eventbridge-schedule",
        "EventBridge scheduled event",
        ["ScheduledEvent"]
    ),
    trigger!(
        "dynamodb-stream",
        "DynamoDB Streams records",
        ["DynamoDBStreamEvent", "DynamoDBStreamModel"]
    ),
    trigger!(
        "kinesis",
        "Kinesis Data Streams records",
        ["KinesisStreamEvent", "KinesisDataStreamModel"]
    ),
    trigger!(
        "cloudwatch-logs",
        "CloudWatch Logs subscription",
        ["CloudWatchLogsEvent", "CloudWatchLogsModel"]
    ),
    trigger!("direct", "Direct invoke (any JSON)", []),
];

/// The trigger called `name`.
pub fn find(name: &str) -> Option<&'static Trigger> {
    CATALOG.iter().find(|t| t.name == name)
}

/// The trigger an annotation such as `SQSEvent`, `events.SQSEvent` or
/// `"APIGatewayProxyEventV2"` stands for: the last dotted name decides.
pub fn for_type(annotation: &str) -> Option<&'static Trigger> {
    let name = annotation
        .trim()
        .trim_matches(['"', '\''])
        .rsplit('.')
        .next()?
        .trim();
    CATALOG.iter().find(|t| t.types.contains(&name))
}

/// The catalog with the trigger `annotation` stands for first, if any.
pub fn ordered(annotation: Option<&str>) -> Vec<&'static Trigger> {
    let first = annotation.and_then(for_type);
    first
        .into_iter()
        .chain(CATALOG.iter().filter(|t| Some(*t) != first))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_is_a_json_object_and_names_are_unique() {
        for t in CATALOG {
            let v: serde_json::Value = serde_json::from_str(t.template)
                .unwrap_or_else(|e| panic!("{} is not JSON: {e}", t.name));
            assert!(v.is_object(), "{}", t.name);
            assert_eq!(find(t.name), Some(t));
        }
    }

    #[test]
    fn annotations_pick_their_trigger() {
        let cases = [
            ("SQSEvent", Some("sqs")),
            ("events.SQSEvent", Some("sqs")),
            ("aws_lambda_typing.events.SQSEvent", Some("sqs")),
            ("\"APIGatewayProxyEventV2\"", Some("apigateway-http")),
            ("APIGatewayProxyEvent", Some("apigateway-rest")),
            ("KinesisDataStreamModel", Some("kinesis")),
            ("dict", None),
            ("dict[str, Any]", None),
        ];
        for (annotation, want) in cases {
            assert_eq!(for_type(annotation).map(|t| t.name), want, "{annotation}");
        }
        let names: Vec<_> = ordered(Some("SnsModel")).iter().map(|t| t.name).collect();
        assert_eq!(names[0], "sns");
        assert_eq!(names.len(), CATALOG.len());
        assert_eq!(ordered(None)[0].name, CATALOG[0].name);
    }
}
