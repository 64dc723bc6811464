//! The rows: one request each and the answer AWS Lambda gives to it, with where that is written.
//!
//! Sources, cited on each row:
//! - [API] the Lambda API reference, https://docs.aws.amazon.com/lambda/latest/api/API_<Op>.html
//!   (request constraints, "Errors", response syntax and notes);
//! - [LS] localstack's Lambda provider (services/lambda_/provider.py), whose answers its
//!   test_lambda_api suite compares with snapshots recorded against real AWS;
//! - [seen] AWS's own answer quoted in a public report (URL given).

use super::Want::{Absent, Eq, Matches, Prefix, Present};
use super::{Call, Moto, Row, Step};

const fn call(method: &'static str, path: &'static str, body: &'static str) -> Call {
    Call {
        method,
        path,
        headers: &[],
        body,
    }
}

const CREATE: Call = call(
    "POST",
    "/2015-03-31/functions",
    r#"{"FunctionName":"{fn}","Runtime":"python3.12","Role":"{role}","Handler":"app.handler","Code":{"ZipFile":"{zip}"},"Timeout":1}"#,
);
const PUBLISH: Call = call("POST", "/2015-03-31/functions/{fn}/versions", "{}");
const ALIAS_LIVE: Call = call(
    "POST",
    "/2015-03-31/functions/{fn}/aliases",
    r#"{"Name":"live","FunctionVersion":"1"}"#,
);
const UPDATE_CODE: Call = call(
    "PUT",
    "/2015-03-31/functions/{fn}/code",
    r#"{"ZipFile":"{zip2}"}"#,
);
const UPDATE_CONFIG: Call = call(
    "PUT",
    "/2015-03-31/functions/{fn}/configuration",
    r#"{"Description":"changed"}"#,
);
const ADD_PERMISSION: Call = call(
    "POST",
    "/2015-03-31/functions/{fn}/policy",
    r#"{"StatementId":"s1","Action":"lambda:InvokeFunction","Principal":"s3.amazonaws.com"}"#,
);
const INVOKE: Call = call("POST", "/2015-03-31/functions/{fn}/invocations", "{}");
/// The row's function name doubles as its layer name.
const PUBLISH_LAYER: Call = call(
    "POST",
    "/2018-10-31/layers/{fn}/versions",
    r#"{"Content":{"ZipFile":"{zip}"},"CompatibleRuntimes":["python3.12"]}"#,
);
const PUBLISH_ZEROS: Call = call(
    "POST",
    "/2018-10-31/layers/{fn}/versions",
    r#"{"Content":{"ZipFile":"{zeros130}"}}"#,
);
const COMBINED_TOO_BIG: &str = "Function code combined with layers exceeds the maximum allowed size of 262144000 bytes. The actual size is ";
const TAG: Call = call(
    "POST",
    "/2017-03-31/tags/arn:aws:lambda:us-east-1:{acct}:function:{fn}",
    r#"{"Tags":{"team":"data","stage":"dev"}}"#,
);
const LIST_TAGS: Call = call(
    "GET",
    "/2017-03-31/tags/arn:aws:lambda:us-east-1:{acct}:function:{fn}",
    "",
);

const NONE: &[Step] = &[];
const CREATED: &[Step] = &[Step::Call(CREATE)];
const READY: &[Step] = &[Step::Call(CREATE), Step::WaitReady];
const PUBLISHED: &[Step] = &[Step::Call(CREATE), Step::WaitReady, Step::Call(PUBLISH)];
const ALIASED: &[Step] = &[
    Step::Call(CREATE),
    Step::WaitReady,
    Step::Call(PUBLISH),
    Step::Call(ALIAS_LIVE),
];
const LAYER_V1: &[Step] = &[Step::Call(PUBLISH_LAYER)];
const LAYER_V2: &[Step] = &[Step::Call(PUBLISH_LAYER), Step::Call(PUBLISH_LAYER)];
const TAGGED: &[Step] = &[Step::Call(CREATE), Step::WaitReady, Step::Call(TAG)];
const WITH_POLICY: &[Step] = &[
    Step::Call(CREATE),
    Step::WaitReady,
    Step::Call(ADD_PERMISSION),
];

const fn ok(name: &'static str, setup: &'static [Step], call: Call, status: u16) -> Row {
    Row {
        name,
        setup,
        call,
        status,
        code: None,
        message: None,
        checks: &[],
        moto: Moto::Right,
        local_by_design: None,
    }
}

const fn err(
    name: &'static str,
    setup: &'static [Step],
    call: Call,
    status: u16,
    code: &'static str,
    message: &'static str,
) -> Row {
    Row {
        name,
        setup,
        call,
        status,
        code: Some(code),
        message: Some(message),
        checks: &[],
        moto: Moto::Right,
        local_by_design: None,
    }
}

/// An error whose code AWS documents but whose exact text the row does not pin down.
const fn fails(
    name: &'static str,
    setup: &'static [Step],
    call: Call,
    status: u16,
    code: &'static str,
) -> Row {
    Row {
        code: Some(code),
        ..ok(name, setup, call, status)
    }
}

const fn checks(row: Row, checks: &'static [super::Check]) -> Row {
    Row { checks, ..row }
}

const fn local_by_design(row: Row, why: &'static str) -> Row {
    Row {
        local_by_design: Some(why),
        ..row
    }
}

const fn moto_wrong(row: Row) -> Row {
    Row {
        moto: Moto::Wrong,
        ..row
    }
}

pub static ROWS: &[Row] = &[
    // ---- names, partial and full ARNs ----
    // [API] GetFunction: FunctionName must match NAME_PATTERN, else ValidationException.
    moto_wrong(err(
        "GetFunction with a name that is no name nor ARN",
        NONE,
        call("GET", "/2015-03-31/functions/invalid:function:name", ""),
        400,
        "ValidationException",
        r"1 validation error detected: Value 'invalid:function:name' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?",
    )),
    // [API] CreateFunction: FunctionName pattern ([a-zA-Z0-9-_]+ as the name part).
    checks(
        moto_wrong(fails(
            "CreateFunction with invalid:function:name is refused",
            NONE,
            call(
                "POST",
                "/2015-03-31/functions",
                r#"{"FunctionName":"invalid:function:{fn}","Runtime":"python3.12","Role":"{role}","Handler":"app.handler","Code":{"ZipFile":"{zip}"}}"#,
            ),
            400,
            "ValidationException",
        )),
        &[("/message", Prefix("1 validation error detected: Value 'invalid:function:"))],
    ),
    // ...and so creates nothing under the last segment ([API] GetFunction: 404 when missing).
    err(
        "CreateFunction with invalid:function:NAME does not create NAME",
        &[Step::Call(call(
            "POST",
            "/2015-03-31/functions",
            r#"{"FunctionName":"invalid:function:{fn}","Runtime":"python3.12","Role":"{role}","Handler":"app.handler","Code":{"ZipFile":"{zip}"}}"#,
        ))],
        call("GET", "/2015-03-31/functions/{fn}", ""),
        404,
        "ResourceNotFoundException",
        "Function not found: arn:aws:lambda:us-east-1:{acct}:function:{fn}",
    ),
    // [API] GetFunction: "You can specify a function name, a partial ARN or a full ARN".
    checks(
        ok(
            "GetFunction by full ARN",
            READY,
            call(
                "GET",
                "/2015-03-31/functions/arn:aws:lambda:us-east-1:{acct}:function:{fn}",
                "",
            ),
            200,
        ),
        &[("/Configuration/FunctionName", Eq(r#""{fn}""#))],
    ),
    checks(
        moto_wrong(ok(
            "GetFunction by partial ARN",
            READY,
            call("GET", "/2015-03-31/functions/{acct}:function:{fn}", ""),
            200,
        )),
        &[("/Configuration/FunctionName", Eq(r#""{fn}""#))],
    ),
    // [API] GetFunction Errors: ResourceNotFoundException 404; [LS] names the ARN asked for.
    err(
        "GetFunction of a missing function",
        NONE,
        call("GET", "/2015-03-31/functions/{fn}", ""),
        404,
        "ResourceNotFoundException",
        "Function not found: arn:aws:lambda:us-east-1:{acct}:function:{fn}",
    ),
    err(
        "GetFunction of a missing version names the qualified ARN",
        READY,
        call("GET", "/2015-03-31/functions/{fn}?Qualifier=7", ""),
        404,
        "ResourceNotFoundException",
        "Function not found: arn:aws:lambda:us-east-1:{acct}:function:{fn}:7",
    ),
    // ---- CreateFunction validation ----
    // [API] CreateFunction: Role pattern; [LS] ValidationException with that pattern.
    moto_wrong(err(
        "CreateFunction with a role that is not a role ARN",
        NONE,
        call(
            "POST",
            "/2015-03-31/functions",
            r#"{"FunctionName":"{fn}","Runtime":"python3.12","Role":"not-a-role","Handler":"app.handler","Code":{"ZipFile":"{zip}"}}"#,
        ),
        400,
        "ValidationException",
        r"1 validation error detected: Value 'not-a-role' at 'role' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+",
    )),
    // [API] CreateFunction: MemorySize "Minimum value of 128".
    moto_wrong(err(
        "CreateFunction with MemorySize below 128",
        NONE,
        call(
            "POST",
            "/2015-03-31/functions",
            r#"{"FunctionName":"{fn}","Runtime":"python3.12","Role":"{role}","Handler":"app.handler","Code":{"ZipFile":"{zip}"},"MemorySize":64}"#,
        ),
        400,
        "ValidationException",
        "1 validation error detected: Value '64' at 'memorySize' failed to satisfy constraint: Member must have value greater than or equal to 128",
    )),
    // The 4 KB limit is on the JSON of the variables, quoted back: key + value here is 4093
    // bytes, the JSON 4100 ([LS] _verify_env_variables; [seen]
    // "String measured: {\"PG_PASSWORD\":...}" in user reports of AWS's answer).
    checks(
        moto_wrong(fails(
            "CreateFunction with variables over 4 KB as JSON",
            NONE,
            call(
                "POST",
                "/2015-03-31/functions",
                r#"{"FunctionName":"{fn}","Runtime":"python3.12","Role":"{role}","Handler":"app.handler","Code":{"ZipFile":"{zip}"},"Environment":{"Variables":{"BIG":"{big}"}}}"#,
            ),
            400,
            "InvalidParameterValueException",
        )),
        &[(
                "/message",
            Eq(r#""Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: {\"BIG\":\"{big}\"}""#),
        )],
    ),
    // [API] CreateFunction Errors: ResourceConflictException 409 "The resource already exists";
    // [LS] "Function already exist: NAME".
    err(
        "CreateFunction of a name that exists",
        CREATED,
        CREATE,
        409,
        "ResourceConflictException",
        "Function already exist: {fn}",
    ),
    // ---- response shapes ----
    // CreateFunction answers Pending/Creating and no LastUpdateStatus; no Environment without
    // variables ([API] CreateFunction response; [LS] map_config_out(return_update_status=False)).
    checks(
        moto_wrong(ok("CreateFunction answer", NONE, CREATE, 201)),
        &[
            ("/State", Eq(r#""Pending""#)),
            ("/StateReasonCode", Eq(r#""Creating""#)),
            ("/LastUpdateStatus", Absent),
            ("/Environment", Absent),
            ("/FunctionArn", Eq(r#""arn:aws:lambda:us-east-1:{acct}:function:{fn}""#)),
            ("/Version", Eq(r#""$LATEST""#)),
        ],
    ),
    // Publish on create: version 1 reported under the unqualified ARN ([LS] create_function:
    // map_config_out(version, return_qualified_arn=False)).
    checks(
        ok(
            "CreateFunction with Publish",
            NONE,
            call(
                "POST",
                "/2015-03-31/functions",
                r#"{"FunctionName":"{fn}","Runtime":"python3.12","Role":"{role}","Handler":"app.handler","Code":{"ZipFile":"{zip}"},"Publish":true}"#,
            ),
            201,
        ),
        &[
            ("/Version", Eq(r#""1""#)),
            ("/FunctionArn", Eq(r#""arn:aws:lambda:us-east-1:{acct}:function:{fn}""#)),
        ],
    ),
    // [API] GetFunction: State and LastUpdateStatus once ready; no Environment without variables.
    checks(
        ok(
            "GetFunction once ready",
            READY,
            call("GET", "/2015-03-31/functions/{fn}", ""),
            200,
        ),
        &[
            ("/Configuration/State", Eq(r#""Active""#)),
            ("/Configuration/LastUpdateStatus", Eq(r#""Successful""#)),
            ("/Configuration/Environment", Absent),
            ("/Code/RepositoryType", Eq(r#""S3""#)),
        ],
    ),
    // [API] ListFunctions Note: entries leave out State, StateReason(Code), LastUpdateStatus*
    // and RuntimeVersionConfig.
    checks(
        moto_wrong(ok(
            "ListFunctions entries are the documented subset",
            READY,
            call("GET", "/2015-03-31/functions", ""),
            200,
        )),
        &[
            ("/Functions/[FunctionName={fn}]/FunctionArn", Present),
            ("/Functions/[FunctionName={fn}]/State", Absent),
            ("/Functions/[FunctionName={fn}]/LastUpdateStatus", Absent),
            ("/Functions/[FunctionName={fn}]/RuntimeVersionConfig", Absent),
        ],
    ),
    // [API] ListFunctions: FunctionVersion "Valid Values: ALL".
    moto_wrong(err(
        "ListFunctions with an unknown FunctionVersion",
        NONE,
        call("GET", "/2015-03-31/functions?FunctionVersion=LATEST", ""),
        400,
        "ValidationException",
        "1 validation error detected: Value 'LATEST' at 'functionVersion' failed to satisfy constraint: Member must satisfy enum value set: [ALL]",
    )),
    // [API] ListFunctions: MaxItems "Minimum value of 1".
    moto_wrong(err(
        "ListFunctions with MaxItems 0",
        NONE,
        call("GET", "/2015-03-31/functions?MaxItems=0", ""),
        400,
        "ValidationException",
        "1 validation error detected: Value '0' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1",
    )),
    // $LATEST in ListVersionsByFunction carries the qualified ARN, list shape ([API]
    // ListVersionsByFunction example; [LS] return_qualified_arn=True).
    checks(
        moto_wrong(ok(
            "ListVersionsByFunction names $LATEST by its qualified ARN",
            READY,
            call("GET", "/2015-03-31/functions/{fn}/versions", ""),
            200,
        )),
        &[
            (
                "/Versions/[Version=$LATEST]/FunctionArn",
                Eq(r#""arn:aws:lambda:us-east-1:{acct}:function:{fn}:$LATEST""#),
            ),
            ("/Versions/[Version=$LATEST]/State", Absent),
        ],
    ),
    // ---- the update-in-progress window ----
    // [API] UpdateFunctionConfiguration Errors: ResourceConflictException 409; the Pending
    // text as AWS words it ([seen] quoted by deploy tools that wait on it, found by searching
    // public code for "The function is currently in the following state: Pending").
    moto_wrong(err(
        "UpdateFunctionConfiguration right after CreateFunction",
        CREATED,
        UPDATE_CONFIG,
        409,
        "ResourceConflictException",
        "The operation cannot be performed at this time. The function is currently in the following state: Pending",
    )),
    // [seen] AWS's text in public deploy logs and READMEs ("...too quickly after having set the
    // Lambda function's VPC, you'll get ... An update is in progress for resource: arn:...");
    // [API] Developer Guide, "Lambda function states": updates while InProgress fail.
    moto_wrong(err(
        "UpdateFunctionConfiguration right after UpdateFunctionCode",
        &[Step::Call(CREATE), Step::WaitReady, Step::Call(UPDATE_CODE)],
        UPDATE_CONFIG,
        409,
        "ResourceConflictException",
        "The operation cannot be performed at this time. An update is in progress for resource: arn:aws:lambda:us-east-1:{acct}:function:{fn}",
    )),
    moto_wrong(err(
        "UpdateFunctionCode right after UpdateFunctionConfiguration",
        &[Step::Call(CREATE), Step::WaitReady, Step::Call(UPDATE_CONFIG)],
        UPDATE_CODE,
        409,
        "ResourceConflictException",
        "The operation cannot be performed at this time. An update is in progress for resource: arn:aws:lambda:us-east-1:{acct}:function:{fn}",
    )),
    moto_wrong(err(
        "PublishVersion right after UpdateFunctionCode",
        &[Step::Call(CREATE), Step::WaitReady, Step::Call(UPDATE_CODE)],
        PUBLISH,
        409,
        "ResourceConflictException",
        "The operation cannot be performed at this time. An update is in progress for resource: arn:aws:lambda:us-east-1:{acct}:function:{fn}",
    )),
    // [API] UpdateFunctionConfiguration response: LastUpdateStatus InProgress while applied.
    checks(
        moto_wrong(ok(
            "UpdateFunctionConfiguration answers InProgress",
            READY,
            UPDATE_CONFIG,
            200,
        )),
        &[
            ("/LastUpdateStatus", Eq(r#""InProgress""#)),
            ("/Description", Eq(r#""changed""#)),
        ],
    ),
    // Once the update is applied, the next one goes through ([API] Lambda function states).
    ok(
        "UpdateFunctionConfiguration after waiting",
        &[Step::Call(CREATE), Step::WaitReady, Step::Call(UPDATE_CODE), Step::WaitReady],
        UPDATE_CONFIG,
        200,
    ),
    // ---- versions ----
    // [API] PublishVersion: "Lambda doesn't publish a version if the function's configuration
    // and code haven't changed since the last version."
    checks(
        ok(
            "PublishVersion with nothing changed returns the last version",
            &[Step::Call(CREATE), Step::WaitReady, Step::Call(PUBLISH)],
            PUBLISH,
            201,
        ),
        &[("/Version", Eq(r#""1""#))],
    ),
    checks(
        ok("PublishVersion answer", READY, PUBLISH, 201),
        &[
            ("/Version", Eq(r#""1""#)),
            ("/FunctionArn", Eq(r#""arn:aws:lambda:us-east-1:{acct}:function:{fn}:1""#)),
        ],
    ),
    // [LS] _create_version_model: the CodeSha256 check and its message.
    moto_wrong(err(
        "PublishVersion with a stale CodeSha256",
        READY,
        call(
            "POST",
            "/2015-03-31/functions/{fn}/versions",
            r#"{"CodeSha256":"AAAA"}"#,
        ),
        400,
        "InvalidParameterValueException",
        "CodeSHA256 (AAAA) is different from current CodeSHA256 in $LATEST ({zipsha}). Please try again with the CodeSHA256 in $LATEST.",
    )),
    // [LS] delete_function with Qualifier $LATEST.
    moto_wrong(err(
        "DeleteFunction of $LATEST only",
        READY,
        call("DELETE", "/2015-03-31/functions/{fn}?Qualifier=$LATEST", ""),
        400,
        "InvalidParameterValueException",
        "$LATEST version cannot be deleted without deleting the function.",
    )),
    // [seen] https://github.com/karl-cardenas-coding/go-lambda-cleanup/issues/45 (AWS's 409).
    moto_wrong(err(
        "DeleteFunction of a version an alias uses",
        ALIASED,
        call("DELETE", "/2015-03-31/functions/{fn}?Qualifier=1", ""),
        409,
        "ResourceConflictException",
        "Unable to delete version because the following aliases reference it: [live]",
    )),
    // ---- aliases ----
    // [seen] https://github.com/fujiwara/lambroll/issues/386: "Cannot find alias arn: ARN".
    err(
        "GetAlias of a missing alias",
        READY,
        call("GET", "/2015-03-31/functions/{fn}/aliases/nope", ""),
        404,
        "ResourceNotFoundException",
        "Cannot find alias arn: arn:aws:lambda:us-east-1:{acct}:function:{fn}:nope",
    ),
    // [seen] localstack PR #11878 (checked against AWS): UpdateAlias on a missing alias.
    moto_wrong(err(
        "UpdateAlias of a missing alias",
        PUBLISHED,
        call(
            "PUT",
            "/2015-03-31/functions/{fn}/aliases/nope",
            r#"{"FunctionVersion":"1"}"#,
        ),
        404,
        "ResourceNotFoundException",
        "Alias not found: arn:aws:lambda:us-east-1:{acct}:function:{fn}:nope",
    )),
    // Same PR: "AWS doesn't throw an error for delete_alias for non-existing alias (but a 204)".
    moto_wrong(ok(
        "DeleteAlias of a missing alias",
        READY,
        call("DELETE", "/2015-03-31/functions/{fn}/aliases/nope", ""),
        204,
    )),
    // [seen] https://github.com/HumanCellAtlas/data-store/issues/929: "Alias already exists: ARN".
    moto_wrong(err(
        "CreateAlias of a name that exists",
        ALIASED,
        ALIAS_LIVE,
        409,
        "ResourceConflictException",
        "Alias already exists: arn:aws:lambda:us-east-1:{acct}:function:{fn}:live",
    )),
    // [seen] https://github.com/aws-cloudformation/rain/issues/175: a missing version is
    // "Function not found: ARN:VERSION".
    err(
        "CreateAlias to a missing version",
        READY,
        call(
            "POST",
            "/2015-03-31/functions/{fn}/aliases",
            r#"{"Name":"live","FunctionVersion":"9"}"#,
        ),
        404,
        "ResourceNotFoundException",
        "Function not found: arn:aws:lambda:us-east-1:{acct}:function:{fn}:9",
    ),
    // [API] GetFunction with an alias: the configuration it points to, under the alias ARN
    // ([LS] map_config_out(return_qualified_arn=True, alias_name)).
    checks(
        moto_wrong(ok(
            "GetFunctionConfiguration through an alias",
            ALIASED,
            call("GET", "/2015-03-31/functions/{fn}/configuration?Qualifier=live", ""),
            200,
        )),
        &[
            ("/Version", Eq(r#""1""#)),
            ("/FunctionArn", Eq(r#""arn:aws:lambda:us-east-1:{acct}:function:{fn}:live""#)),
        ],
    ),
    // ---- resource policies ----
    // [API] GetPolicy Errors: ResourceNotFoundException; [LS] its message.
    err(
        "GetPolicy of a function without a policy",
        READY,
        call("GET", "/2015-03-31/functions/{fn}/policy", ""),
        404,
        "ResourceNotFoundException",
        "The resource you requested does not exist.",
    ),
    // [LS] get_policy: a missing function is "Function not found: ARN".
    err(
        "GetPolicy of a missing function",
        NONE,
        call("GET", "/2015-03-31/functions/{fn}/policy", ""),
        404,
        "ResourceNotFoundException",
        "Function not found: arn:aws:lambda:us-east-1:{acct}:function:{fn}",
    ),
    // [API] AddPermission: StatementId "Pattern: ([a-zA-Z0-9-_]+)".
    moto_wrong(err(
        "AddPermission with a dot in the statement id",
        READY,
        call(
            "POST",
            "/2015-03-31/functions/{fn}/policy",
            r#"{"StatementId":"a.b","Action":"lambda:InvokeFunction","Principal":"s3.amazonaws.com"}"#,
        ),
        400,
        "ValidationException",
        "1 validation error detected: Value 'a.b' at 'statementId' failed to satisfy constraint: Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)",
    )),
    // [seen] terraform-aws-modules/terraform-aws-lambda#36: AWS refuses policies on $LATEST.
    moto_wrong(err(
        "AddPermission on $LATEST",
        READY,
        call(
            "POST",
            "/2015-03-31/functions/{fn}/policy?Qualifier=$LATEST",
            r#"{"StatementId":"s1","Action":"lambda:InvokeFunction","Principal":"s3.amazonaws.com"}"#,
        ),
        400,
        "InvalidParameterValueException",
        "We currently do not support adding policies for $LATEST.",
    )),
    // [LS] add_permission: a duplicate statement id, named in the message.
    moto_wrong(err(
        "AddPermission with a statement id that exists",
        WITH_POLICY,
        ADD_PERMISSION,
        409,
        "ResourceConflictException",
        "The statement id (s1) provided already exists. Please provide a new statement id, or remove the existing statement.",
    )),
    // [API] AddPermission response: Statement.
    checks(
        moto_wrong(ok("AddPermission answer", READY, ADD_PERMISSION, 201)),
        &[("/Statement", Present)],
    ),
    // [LS] remove_permission and moto's AWS-checked test: no policy at all.
    err(
        "RemovePermission without a policy",
        READY,
        call("DELETE", "/2015-03-31/functions/{fn}/policy/s1", ""),
        404,
        "ResourceNotFoundException",
        "No policy is associated with the given resource.",
    ),
    // [LS] remove_permission: a statement id the policy does not have.
    moto_wrong(err(
        "RemovePermission of a statement id that is not there",
        WITH_POLICY,
        call("DELETE", "/2015-03-31/functions/{fn}/policy/nope", ""),
        404,
        "ResourceNotFoundException",
        "Statement nope is not found in resource policy.",
    )),
    // ---- function URLs ----
    // [LS] get_function_url_config: a missing function is "The resource you requested does
    // not exist.", as is a missing configuration.
    moto_wrong(err(
        "GetFunctionUrlConfig of a missing function",
        NONE,
        call("GET", "/2021-10-31/functions/{fn}/url", ""),
        404,
        "ResourceNotFoundException",
        "The resource you requested does not exist.",
    )),
    err(
        "GetFunctionUrlConfig without one",
        READY,
        call("GET", "/2021-10-31/functions/{fn}/url", ""),
        404,
        "ResourceNotFoundException",
        "The resource you requested does not exist.",
    ),
    // [API] CreateFunctionUrlConfig: Qualifier "Pattern: ((?!^\d+$)^[0-9a-zA-Z-_]+$)".
    moto_wrong(err(
        "CreateFunctionUrlConfig on a version",
        PUBLISHED,
        call(
            "POST",
            "/2021-10-31/functions/{fn}/url?Qualifier=1",
            r#"{"AuthType":"NONE"}"#,
        ),
        400,
        "ValidationException",
        r"1 validation error detected: Value '1' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: ((?!^\d+$)^[0-9a-zA-Z-_]+$)",
    )),
    // [API] CreateFunctionUrlConfig: AuthType "Valid Values: NONE | AWS_IAM".
    moto_wrong(fails(
        "CreateFunctionUrlConfig with an unknown AuthType",
        READY,
        call("POST", "/2021-10-31/functions/{fn}/url", r#"{"AuthType":"OPEN"}"#),
        400,
        "ValidationException",
    )),
    // ---- invoke ----
    // Invoking a missing function names the qualified ARN, $LATEST by default ([seen] AWS's
    // "Function not found: arn:aws:lambda:REGION:ACCT:function:NAME:$LATEST"; [API] Invoke
    // Errors: ResourceNotFoundException 404).
    moto_wrong(err(
        "Invoke of a missing function",
        NONE,
        INVOKE,
        404,
        "ResourceNotFoundException",
        "Function not found: arn:aws:lambda:us-east-1:{acct}:function:{fn}:$LATEST",
    )),
    // [API] Invoke response: ExecutedVersion for a synchronous call.
    checks(
        moto_wrong(ok("Invoke answer", READY, INVOKE, 200)),
        &[("header:x-amz-executed-version", Eq(r#""$LATEST""#))],
    ),
    // [API] Invoke: an Event invoke answers 202 with no ExecutedVersion.
    checks(
        ok(
            "Invoke of type Event",
            READY,
            Call {
                headers: &[("x-amz-invocation-type", "Event")],
                ..INVOKE
            },
            202,
        ),
        &[("header:x-amz-executed-version", Absent)],
    ),
    checks(
        moto_wrong(ok(
            "Invoke through an alias runs its version",
            ALIASED,
            call("POST", "/2015-03-31/functions/{fn}/invocations?Qualifier=live", "{}"),
            200,
        )),
        &[("header:x-amz-executed-version", Eq(r#""1""#))],
    ),
    // [API] Invoke: InvocationType "Valid Values: Event | RequestResponse | DryRun".
    moto_wrong(err(
        "Invoke with an unknown InvocationType",
        READY,
        Call {
            headers: &[("x-amz-invocation-type", "Later")],
            ..INVOKE
        },
        400,
        "ValidationException",
        "1 validation error detected: Value 'Later' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]",
    )),
    // [API] Invoke: LogType "Valid Values: None | Tail".
    moto_wrong(err(
        "Invoke with an unknown LogType",
        READY,
        Call {
            headers: &[("x-amz-log-type", "All")],
            ..INVOKE
        },
        400,
        "ValidationException",
        "1 validation error detected: Value 'All' at 'logType' failed to satisfy constraint: Member must satisfy enum value set: [None, Tail]",
    )),
    // [API] Invoke Errors: InvalidRequestContentException 400 for a body that is not JSON.
    moto_wrong(fails(
        "Invoke with a payload that is not JSON",
        READY,
        call("POST", "/2015-03-31/functions/{fn}/invocations", "{not json"),
        400,
        "InvalidRequestContentException",
    )),
    // A timeout: errorType Sandbox.Timedout, "RequestId: ID Error: Task timed out after 1.00
    // seconds" ([seen] `aws lambda invoke` transcripts in public notes:
    // {"errorType":"Sandbox.Timedout","errorMessage":"RequestId: f83d... Error: Task timed out
    // after 3.00 seconds"}; [API] Invoke: FunctionError "Unhandled").
    moto_wrong(checks(
        ok(
            "Invoke that runs past its timeout",
            READY,
            call("POST", "/2015-03-31/functions/{fn}/invocations", r#"{"sleep":3}"#),
            200,
        ),
        &[
            ("header:x-amz-function-error", Eq(r#""Unhandled""#)),
            ("/errorType", Eq(r#""Sandbox.Timedout""#)),
            (
                "/errorMessage",
                Matches(r"RequestId: [0-9a-f-]{36} Error: Task timed out after 1\.00 seconds"),
            ),
        ],
    )),
    // The REPORT line, field by field with tabs, the last one too ([API] Developer Guide,
    // "Using CloudWatch Logs with Lambda", REPORT fields; the trailing tab is from the AWS
    // recordings issue 13 was measured with).
    moto_wrong(checks(
        ok(
            "Invoke with LogType Tail: the REPORT line",
            READY,
            Call {
                headers: &[("x-amz-log-type", "Tail")],
                ..INVOKE
            },
            200,
        ),
        &[(
            "report",
            Matches(
                r"REPORT RequestId: [0-9a-f-]{36}\tDuration: \d+\.\d{2} ms\tBilled Duration: \d+ ms\tMemory Size: 128 MB\tMax Memory Used: \d+ MB\t(Init Duration: \d+\.\d{2} ms\t)?",
            ),
        )],
    )),
    // ---- layers ----
    // [API] PublishLayerVersion response syntax: Content (Location, CodeSha256, CodeSize),
    // LayerArn, LayerVersionArn, Version (the first is 1), CreatedDate, CompatibleRuntimes.
    checks(
        ok("PublishLayerVersion answer", NONE, PUBLISH_LAYER, 201),
        &[
            ("/Version", Eq("1")),
            ("/LayerArn", Eq(r#""arn:aws:lambda:us-east-1:{acct}:layer:{fn}""#)),
            ("/LayerVersionArn", Eq(r#""arn:aws:lambda:us-east-1:{acct}:layer:{fn}:1""#)),
            ("/Content/CodeSha256", Eq(r#""{zipsha}""#)),
            ("/Content/CodeSize", Present),
            ("/Content/Location", Present),
            ("/CreatedDate", Present),
            ("/CompatibleRuntimes", Eq(r#"["python3.12"]"#)),
        ],
    ),
    // [API] PublishLayerVersion: "Each time you call PublishLayerVersion with the same layer
    // name, a new version is created" (even with the same content).
    checks(
        ok("PublishLayerVersion again makes version 2", LAYER_V1, PUBLISH_LAYER, 201),
        &[("/Version", Eq("2"))],
    ),
    // Version numbers are never reused: [LS] publish_layer_version counts on from
    // next_version, which DeleteLayerVersion does not lower.
    checks(
        ok(
            "PublishLayerVersion after deleting the last version",
            &[
                Step::Call(PUBLISH_LAYER),
                Step::Call(call("DELETE", "/2018-10-31/layers/{fn}/versions/1", "")),
            ],
            PUBLISH_LAYER,
            201,
        ),
        &[("/Version", Eq("2"))],
    ),
    // [API] PublishLayerVersion: LayerName "Pattern:
    // (arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+".
    checks(
        moto_wrong(fails(
            "PublishLayerVersion with a dot in the layer name",
            NONE,
            call(
                "POST",
                "/2018-10-31/layers/a.b/versions",
                r#"{"Content":{"ZipFile":"{zip}"}}"#,
            ),
            400,
            "ValidationException",
        )),
        &[(
            "/message",
            Prefix("1 validation error detected: Value 'a.b' at 'layerName' failed to satisfy constraint: Member must satisfy regular expression pattern: "),
        )],
    ),
    // [API] PublishLayerVersion: Content "Required: Yes"; AWS's request validation words a
    // missing member "Value null at '...' ... Member must not be null" ([LS] untag_resource).
    moto_wrong(err(
        "PublishLayerVersion without Content",
        NONE,
        call("POST", "/2018-10-31/layers/{fn}/versions", "{}"),
        400,
        "ValidationException",
        "1 validation error detected: Value null at 'content' failed to satisfy constraint: Member must not be null",
    )),
    // [API] PublishLayerVersion: CompatibleRuntimes items are Runtime enum values; [LS]
    // validate_layer_runtimes_and_architectures answers ValidationException.
    checks(
        moto_wrong(fails(
            "PublishLayerVersion with an unknown runtime",
            NONE,
            call(
                "POST",
                "/2018-10-31/layers/{fn}/versions",
                r#"{"Content":{"ZipFile":"{zip}"},"CompatibleRuntimes":["python9"]}"#,
            ),
            400,
            "ValidationException",
        )),
        &[(
            "/message",
            Prefix("1 validation error detected: Value '[python9]' at 'compatibleRuntimes' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: "),
        )],
    ),
    // [API] GetLayerVersion response: the same shape as PublishLayerVersion's.
    checks(
        ok(
            "GetLayerVersion answer",
            LAYER_V1,
            call("GET", "/2018-10-31/layers/{fn}/versions/1", ""),
            200,
        ),
        &[
            ("/Version", Eq("1")),
            ("/LayerVersionArn", Eq(r#""arn:aws:lambda:us-east-1:{acct}:layer:{fn}:1""#)),
            ("/Content/CodeSha256", Eq(r#""{zipsha}""#)),
            ("/Content/Location", Present),
        ],
    ),
    // [API] GetLayerVersion Errors: ResourceNotFoundException 404; [LS] get_layer_version:
    // "The resource you requested does not exist." for a missing layer or version.
    moto_wrong(err(
        "GetLayerVersion of a missing version",
        LAYER_V1,
        call("GET", "/2018-10-31/layers/{fn}/versions/7", ""),
        404,
        "ResourceNotFoundException",
        "The resource you requested does not exist.",
    )),
    moto_wrong(err(
        "GetLayerVersion of a missing layer",
        NONE,
        call("GET", "/2018-10-31/layers/{fn}/versions/1", ""),
        404,
        "ResourceNotFoundException",
        "The resource you requested does not exist.",
    )),
    // [LS] get_layer_version: version numbers start at 1.
    moto_wrong(err(
        "GetLayerVersion 0",
        LAYER_V1,
        call("GET", "/2018-10-31/layers/{fn}/versions/0", ""),
        400,
        "InvalidParameterValueException",
        "Layer Version Cannot be less than 1",
    )),
    // [API] GetLayerVersionByArn: GET /2018-10-31/layers?find=LayerVersion&Arn=ARN.
    checks(
        moto_wrong(ok(
            "GetLayerVersionByArn answer",
            LAYER_V1,
            call(
                "GET",
                "/2018-10-31/layers?find=LayerVersion&Arn=arn:aws:lambda:us-east-1:{acct}:layer:{fn}:1",
                "",
            ),
            200,
        )),
        &[
            ("/Version", Eq("1")),
            ("/LayerArn", Eq(r#""arn:aws:lambda:us-east-1:{acct}:layer:{fn}""#)),
        ],
    ),
    // [API] GetLayerVersionByArn: Arn "Pattern: arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:
    // layer:[a-zA-Z0-9-_]+:[0-9]+" (a version is required); [LS] get_layer_version_by_arn.
    checks(
        moto_wrong(fails(
            "GetLayerVersionByArn without a version",
            LAYER_V1,
            call(
                "GET",
                "/2018-10-31/layers?find=LayerVersion&Arn=arn:aws:lambda:us-east-1:{acct}:layer:{fn}",
                "",
            ),
            400,
            "ValidationException",
        )),
        &[(
            "/message",
            Prefix("1 validation error detected: Value 'arn:aws:lambda:us-east-1:{acct}:layer:{fn}' at 'arn' failed to satisfy constraint: Member must satisfy regular expression pattern: "),
        )],
    ),
    moto_wrong(err(
        "GetLayerVersionByArn of a missing version",
        LAYER_V1,
        call(
            "GET",
            "/2018-10-31/layers?find=LayerVersion&Arn=arn:aws:lambda:us-east-1:{acct}:layer:{fn}:9",
            "",
        ),
        404,
        "ResourceNotFoundException",
        "The resource you requested does not exist.",
    )),
    // [API] ListLayerVersions: newest first; its items (LayerVersionsListItem) have no Content
    // nor LayerArn.
    checks(
        moto_wrong(ok(
            "ListLayerVersions answer",
            LAYER_V2,
            call("GET", "/2018-10-31/layers/{fn}/versions", ""),
            200,
        )),
        &[
            ("/LayerVersions/0/Version", Eq("2")),
            ("/LayerVersions/1/Version", Eq("1")),
            ("/LayerVersions/2", Absent),
            (
                "/LayerVersions/0/LayerVersionArn",
                Eq(r#""arn:aws:lambda:us-east-1:{acct}:layer:{fn}:2""#),
            ),
            ("/LayerVersions/0/Content", Absent),
            ("/LayerVersions/0/LayerArn", Absent),
        ],
    ),
    // [LS] list_layer_versions: a layer that does not exist lists nothing (no error).
    checks(
        ok(
            "ListLayerVersions of a missing layer",
            NONE,
            call("GET", "/2018-10-31/layers/{fn}/versions", ""),
            200,
        ),
        &[("/LayerVersions", Eq("[]"))],
    ),
    // [API] ListLayerVersions: CompatibleRuntime is a Runtime enum value.
    moto_wrong(fails(
        "ListLayerVersions with an unknown CompatibleRuntime",
        LAYER_V1,
        call("GET", "/2018-10-31/layers/{fn}/versions?CompatibleRuntime=python9", ""),
        400,
        "ValidationException",
    )),
    // [API] ListLayerVersions: MaxItems "Valid Range: Minimum value of 1. Maximum value of 50."
    moto_wrong(err(
        "ListLayerVersions with MaxItems 0",
        LAYER_V1,
        call("GET", "/2018-10-31/layers/{fn}/versions?MaxItems=0", ""),
        400,
        "ValidationException",
        "1 validation error detected: Value '0' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1",
    )),
    // [API] ListLayers: each layer with its latest version (LatestMatchingVersion).
    checks(
        moto_wrong(ok(
            "ListLayers answer",
            LAYER_V2,
            call("GET", "/2018-10-31/layers", ""),
            200,
        )),
        &[
            (
                "/Layers/[LayerName={fn}]/LayerArn",
                Eq(r#""arn:aws:lambda:us-east-1:{acct}:layer:{fn}""#),
            ),
            ("/Layers/[LayerName={fn}]/LatestMatchingVersion/Version", Eq("2")),
            ("/Layers/[LayerName={fn}]/LatestMatchingVersion/Content", Absent),
        ],
    ),
    // [API] DeleteLayerVersion: 204; [LS] delete_layer_version: a missing version is no error.
    moto_wrong(ok(
        "DeleteLayerVersion answer",
        LAYER_V1,
        call("DELETE", "/2018-10-31/layers/{fn}/versions/1", ""),
        204,
    )),
    moto_wrong(ok(
        "DeleteLayerVersion of a missing version",
        NONE,
        call("DELETE", "/2018-10-31/layers/{fn}/versions/3", ""),
        204,
    )),
    // [LS] delete_layer_version: version numbers start at 1.
    moto_wrong(err(
        "DeleteLayerVersion 0",
        NONE,
        call("DELETE", "/2018-10-31/layers/{fn}/versions/0", ""),
        400,
        "InvalidParameterValueException",
        "Layer Version Cannot be less than 1",
    )),
    moto_wrong(err(
        "GetLayerVersion after DeleteLayerVersion",
        &[
            Step::Call(PUBLISH_LAYER),
            Step::Call(call("DELETE", "/2018-10-31/layers/{fn}/versions/1", "")),
        ],
        call("GET", "/2018-10-31/layers/{fn}/versions/1", ""),
        404,
        "ResourceNotFoundException",
        "The resource you requested does not exist.",
    )),
    // ---- tags ----
    // [API] TagResource: 204, no body.
    moto_wrong(ok("TagResource answer", READY, TAG, 204)),
    // [API] ListTags response: {"Tags": {...}}.
    checks(
        ok("ListTags answer", TAGGED, LIST_TAGS, 200),
        &[("/Tags", Eq(r#"{"team":"data","stage":"dev"}"#))],
    ),
    checks(
        ok("ListTags of a function without tags", READY, LIST_TAGS, 200),
        &[("/Tags", Eq("{}"))],
    ),
    // [API] UntagResource: DELETE with tagKeys in the query, 204.
    checks(
        ok(
            "ListTags after UntagResource",
            &[
                Step::Call(CREATE),
                Step::WaitReady,
                Step::Call(TAG),
                Step::Call(call(
                    "DELETE",
                    "/2017-03-31/tags/arn:aws:lambda:us-east-1:{acct}:function:{fn}?tagKeys=team",
                    "",
                )),
            ],
            LIST_TAGS,
            200,
        ),
        &[("/Tags", Eq(r#"{"stage":"dev"}"#))],
    ),
    ok(
        "UntagResource answer",
        TAGGED,
        call(
            "DELETE",
            "/2017-03-31/tags/arn:aws:lambda:us-east-1:{acct}:function:{fn}?tagKeys=team&tagKeys=stage",
            "",
        ),
        204,
    ),
    // [API] GetFunction response: Tags, the function's tags.
    checks(
        ok(
            "GetFunction of a tagged function",
            TAGGED,
            call("GET", "/2015-03-31/functions/{fn}", ""),
            200,
        ),
        &[("/Tags", Eq(r#"{"team":"data","stage":"dev"}"#))],
    ),
    // [API] TagResource Errors: ResourceNotFoundException; [LS] _get_function's message.
    err(
        "TagResource of a missing function",
        NONE,
        TAG,
        404,
        "ResourceNotFoundException",
        "Function not found: arn:aws:lambda:us-east-1:{acct}:function:{fn}",
    ),
    err(
        "ListTags of a missing function",
        NONE,
        LIST_TAGS,
        404,
        "ResourceNotFoundException",
        "Function not found: arn:aws:lambda:us-east-1:{acct}:function:{fn}",
    ),
    // [API] TagResource: Resource is an ARN ("Pattern: arn:(aws[a-zA-Z-]*):lambda:..."); a
    // bare name fails the pattern ([LS] tag_resource).
    checks(
        moto_wrong(fails(
            "TagResource with a name instead of an ARN",
            READY,
            call("POST", "/2017-03-31/tags/{fn}", r#"{"Tags":{"team":"data"}}"#),
            400,
            "ValidationException",
        )),
        &[(
            "/message",
            Prefix("1 validation error detected: Value '{fn}' at 'resource' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:"),
        )],
    ),
    // [LS] tag_resource: tags belong to the function, not to a version or alias.
    moto_wrong(err(
        "TagResource of a version ARN",
        PUBLISHED,
        call(
            "POST",
            "/2017-03-31/tags/arn:aws:lambda:us-east-1:{acct}:function:{fn}:1",
            r#"{"Tags":{"team":"data"}}"#,
        ),
        400,
        "InvalidParameterValueException",
        "Tags on function aliases and versions are not supported. Please specify a function ARN.",
    )),
    // [LS] tag_resource: no tags at all.
    moto_wrong(err(
        "TagResource without tags",
        READY,
        call(
            "POST",
            "/2017-03-31/tags/arn:aws:lambda:us-east-1:{acct}:function:{fn}",
            r#"{"Tags":{}}"#,
        ),
        400,
        "InvalidParameterValueException",
        "An error occurred and the request cannot be processed.",
    )),
    // [API] Developer Guide, "Using tags on Lambda functions": at most 50 tags per resource;
    // [LS] _store_tags's message.
    moto_wrong(err(
        "TagResource past 50 tags",
        READY,
        call(
            "POST",
            "/2017-03-31/tags/arn:aws:lambda:us-east-1:{acct}:function:{fn}",
            r#"{"Tags":{tags51}}"#,
        ),
        400,
        "InvalidParameterValueException",
        "Number of tags exceeds resource tag limit.",
    )),
    // [API] UntagResource: TagKeys "Required: Yes"; [LS] untag_resource's message.
    moto_wrong(err(
        "UntagResource without tagKeys",
        TAGGED,
        call(
            "DELETE",
            "/2017-03-31/tags/arn:aws:lambda:us-east-1:{acct}:function:{fn}",
            "",
        ),
        400,
        "ValidationException",
        "1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null",
    )),
    // ---- account settings ----
    // [API] GetAccountSettings response; the values are Lambda's default quotas (Developer
    // Guide, "Lambda quotas": 75 GB code storage, 50 MB zipped, 250 MB unzipped, 1,000
    // concurrent executions).
    checks(
        moto_wrong(ok(
            "GetAccountSettings answer",
            READY,
            call("GET", "/2016-08-19/account-settings", ""),
            200,
        )),
        &[
            ("/AccountLimit/TotalCodeSize", Eq("80530636800")),
            ("/AccountLimit/CodeSizeZipped", Eq("52428800")),
            ("/AccountLimit/CodeSizeUnzipped", Eq("262144000")),
            ("/AccountLimit/ConcurrentExecutions", Eq("1000")),
            ("/AccountLimit/UnreservedConcurrentExecutions", Present),
            ("/AccountUsage/FunctionCount", Present),
            ("/AccountUsage/TotalCodeSize", Present),
        ],
    ),
    // ---- the rest of the function operations ----
    // [API] ListAliases response: Aliases, each an AliasConfiguration.
    checks(
        ok(
            "ListAliases answer",
            ALIASED,
            call("GET", "/2015-03-31/functions/{fn}/aliases", ""),
            200,
        ),
        &[
            (
                "/Aliases/[Name=live]/AliasArn",
                Eq(r#""arn:aws:lambda:us-east-1:{acct}:function:{fn}:live""#),
            ),
            ("/Aliases/[Name=live]/FunctionVersion", Eq(r#""1""#)),
            ("/Aliases/[Name=live]/RevisionId", Present),
        ],
    ),
    // [API] ListAliases Errors: ResourceNotFoundException; [LS] _get_function's message.
    err(
        "ListAliases of a missing function",
        NONE,
        call("GET", "/2015-03-31/functions/{fn}/aliases", ""),
        404,
        "ResourceNotFoundException",
        "Function not found: arn:aws:lambda:us-east-1:{acct}:function:{fn}",
    ),
    // [API] DeleteFunction: 204; Errors: ResourceNotFoundException.
    ok(
        "DeleteFunction answer",
        READY,
        call("DELETE", "/2015-03-31/functions/{fn}", ""),
        204,
    ),
    err(
        "DeleteFunction of a missing function",
        NONE,
        call("DELETE", "/2015-03-31/functions/{fn}", ""),
        404,
        "ResourceNotFoundException",
        "Function not found: arn:aws:lambda:us-east-1:{acct}:function:{fn}",
    ),
    err(
        "UpdateFunctionCode of a missing function",
        NONE,
        UPDATE_CODE,
        404,
        "ResourceNotFoundException",
        "Function not found: arn:aws:lambda:us-east-1:{acct}:function:{fn}",
    ),
    err(
        "GetFunctionConfiguration of a missing function",
        NONE,
        call("GET", "/2015-03-31/functions/{fn}/configuration", ""),
        404,
        "ResourceNotFoundException",
        "Function not found: arn:aws:lambda:us-east-1:{acct}:function:{fn}",
    ),
    // [API] CreateFunctionUrlConfig response: FunctionUrl, FunctionArn, AuthType,
    // CreationTime, InvokeMode; no LastModifiedTime (that is GetFunctionUrlConfig's).
    checks(
        moto_wrong(ok(
            "CreateFunctionUrlConfig answer",
            READY,
            call("POST", "/2021-10-31/functions/{fn}/url", r#"{"AuthType":"NONE"}"#),
            201,
        )),
        &[
            ("/FunctionArn", Eq(r#""arn:aws:lambda:us-east-1:{acct}:function:{fn}""#)),
            ("/AuthType", Eq(r#""NONE""#)),
            ("/CreationTime", Present),
            ("/LastModifiedTime", Absent),
        ],
    ),
    // [API] FunctionUrlConfig: FunctionUrl is `https://<url-id>.lambda-url.<region>.on.aws/`.
    local_by_design(
        checks(
            moto_wrong(ok(
                "CreateFunctionUrlConfig's address",
                READY,
                call("POST", "/2021-10-31/functions/{fn}/url", r#"{"AuthType":"NONE"}"#),
                201,
            )),
            &[("/FunctionUrl", Matches(r"https://[a-z0-9]+\.lambda-url\.us-east-1\.on\.aws/"))],
        ),
        "function URLs are served over plain HTTP on a loopback port of their own",
    ),
    // [LS] update/delete_function_url_config: no configuration is "The resource you requested
    // does not exist."
    moto_wrong(err(
        "UpdateFunctionUrlConfig without one",
        READY,
        call("PUT", "/2021-10-31/functions/{fn}/url", r#"{"AuthType":"AWS_IAM"}"#),
        404,
        "ResourceNotFoundException",
        "The resource you requested does not exist.",
    )),
    moto_wrong(err(
        "DeleteFunctionUrlConfig without one",
        READY,
        call("DELETE", "/2021-10-31/functions/{fn}/url", ""),
        404,
        "ResourceNotFoundException",
        "The resource you requested does not exist.",
    )),
    // [API] ListFunctionUrlConfigs response: FunctionUrlConfigs (required, so present empty).
    checks(
        moto_wrong(ok(
            "ListFunctionUrlConfigs without any",
            READY,
            call("GET", "/2021-10-31/functions/{fn}/urls", ""),
            200,
        )),
        &[("/FunctionUrlConfigs", Eq("[]"))],
    ),
    moto_wrong(err(
        "ListFunctionUrlConfigs of a missing function",
        NONE,
        call("GET", "/2021-10-31/functions/{fn}/urls", ""),
        404,
        "ResourceNotFoundException",
        "Function not found: arn:aws:lambda:us-east-1:{acct}:function:{fn}",
    )),
    // ---- code and layers together ----
    // [seen] AWS's answer in public deploy logs and notes, e.g. "InvalidParameterValueException:
    // Function code combined with layers exceeds the maximum allowed size of 262144000 bytes.
    // The actual size is 318068249 bytes." (CloudFormation and Terraform output); [API] Developer
    // Guide, "Lambda quotas": 250 MB unzipped for the function and all its layers.
    checks(
        moto_wrong(fails(
            "CreateFunction whose code and layers pass 250 MB together",
            &[Step::Call(PUBLISH_ZEROS)],
            call(
                "POST",
                "/2015-03-31/functions",
                r#"{"FunctionName":"{fn}","Runtime":"python3.12","Role":"{role}","Handler":"app.handler","Code":{"ZipFile":"{zeros130}"},"Layers":["arn:aws:lambda:us-east-1:{acct}:layer:{fn}:1"]}"#,
            ),
            400,
            "InvalidParameterValueException",
        )),
        &[("/message", Prefix(COMBINED_TOO_BIG))],
    ),
    checks(
        moto_wrong(fails(
            "UpdateFunctionConfiguration adding layers past 250 MB",
            &[
                Step::Call(PUBLISH_ZEROS),
                Step::Call(call(
                    "POST",
                    "/2015-03-31/functions",
                    r#"{"FunctionName":"{fn}","Runtime":"python3.12","Role":"{role}","Handler":"app.handler","Code":{"ZipFile":"{zeros130}"}}"#,
                )),
                Step::WaitReady,
            ],
            call(
                "PUT",
                "/2015-03-31/functions/{fn}/configuration",
                r#"{"Layers":["arn:aws:lambda:us-east-1:{acct}:layer:{fn}:1"]}"#,
            ),
            400,
            "InvalidParameterValueException",
        )),
        &[("/message", Prefix(COMBINED_TOO_BIG))],
    ),
];
