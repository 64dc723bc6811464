"""lambda-ls built-in bootstrap: runs one Python handler over the AWS Lambda Runtime API.

It mirrors awslambdaric's behaviour (error shapes, context object, log format) with only the
standard library, for interpreters that do not have awslambdaric installed.
"""

import decimal
import http.client
import importlib
import json
import logging
import os
import sys
import time
import traceback

PREFIX = "/2018-06-01/runtime"
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"
REQUEST_ID = ""


class Fault(Exception):
    def __init__(self, error_type, msg, trace=None):
        super().__init__(msg)
        self.error_type = error_type
        self.msg = msg
        self.trace = trace


class RuntimeClient:
    """One keep-alive connection to this worker's Runtime API."""

    def __init__(self, address):
        host, _, port = address.rpartition(":")
        self.host = host
        self.port = int(port)
        self.conn = None

    def request(self, method, path, body=None, headers=None):
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port)
            try:
                self.conn.request(method, PREFIX + path, body=body, headers=headers or {})
                resp = self.conn.getresponse()
                return resp, resp.read()
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise RuntimeError("unreachable")


class CognitoIdentity:
    cognito_identity_id = None
    cognito_identity_pool_id = None


class LambdaContext:
    def __init__(self, request_id, deadline_ms, invoked_arn, client_context):
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_arn
        self.client_context = client_context
        self.identity = CognitoIdentity()
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(self._deadline_ms - int(time.time() * 1000), 0)

    def log(self, msg):
        sys.stdout.write(str(msg))


def make_error(message, error_type, stack_trace, request_id=""):
    return {
        "errorMessage": message or "",
        "errorType": error_type or "",
        "requestId": request_id,
        "stackTrace": stack_trace or [],
    }


def fault_result(exc_info, request_id=""):
    etype, value, tb = exc_info
    frames = traceback.extract_tb(tb)
    # Drop this file's own frames, as awslambdaric does, so the trace starts in user code.
    for i, frame in enumerate(frames):
        if "/bootstrap.py" not in frame.filename:
            frames = frames[i:]
            break
    return make_error(str(value), etype.__name__, traceback.format_list(frames), request_id)


def log_error(error):
    lines = ["[ERROR] " + error["errorType"] + ": " + error["errorMessage"]]
    if error["stackTrace"]:
        lines.append("Traceback (most recent call last):")
        for entry in error["stackTrace"]:
            lines.extend(entry.splitlines())
    # "\r" keeps a multi-line error one log event, like Lambda's runtime does.
    sys.stdout.write("\r".join(lines) + "\n")


class RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.aws_request_id = REQUEST_ID
        return True


class LambdaLoggerHandler(logging.Handler):
    def emit(self, record):
        sys.stdout.write(self.format(record).replace("\n", "\r") + "\n")


def setup_logging():
    handler = LambdaLoggerHandler()
    handler.setFormatter(
        logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
            "%Y-%m-%dT%H:%M:%S",
        )
    )
    handler.formatter.converter = time.gmtime
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL")
    if level:
        root.setLevel(level.upper())


def load_handler(spec):
    try:
        modname, fname = spec.rsplit(".", 1)
    except ValueError as e:
        raise Fault("Runtime.MalformedHandlerName", "Bad handler '{}': {}".format(spec, e))
    try:
        if modname.split(".")[0] in sys.builtin_module_names:
            raise Fault(
                "Runtime.BuiltInModuleConflict",
                "Cannot use built-in module {} as a handler module".format(modname),
            )
        module = importlib.import_module(modname.replace("/", "."))
    except ImportError as e:
        raise Fault(
            "Runtime.ImportModuleError",
            "Unable to import module '{}': {}".format(modname, e),
        )
    except SyntaxError as e:
        raise Fault(
            "Runtime.UserCodeSyntaxError",
            "Syntax error in module '{}': {}".format(modname, e),
            ['  File "%s" Line %s\n    %s' % (e.filename, e.lineno, e.text)],
        )
    try:
        return getattr(module, fname)
    except AttributeError:
        raise Fault(
            "Runtime.HandlerNotFound",
            "Handler '{}' missing on module '{}'".format(fname, modname),
        )


def json_default(obj):
    if isinstance(obj, decimal.Decimal):
        return int(obj) if obj == obj.to_integral_value() else float(obj)
    raise TypeError("Object of type %s is not JSON serializable" % type(obj).__name__)


def marshal(result):
    if isinstance(result, bytes):
        return result
    try:
        return json.dumps(result, default=json_default).encode("utf-8")
    except (TypeError, ValueError) as e:
        raise Fault("Runtime.MarshalError", "Unable to marshal response: {}".format(e))


def main():
    global REQUEST_ID
    handler_spec = sys.argv[1] if len(sys.argv) > 1 else os.environ["_HANDLER"]
    task_root = os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd()
    # sys.path[0] is this file's directory; user modules must resolve from the task root.
    sys.path[0] = task_root
    client = RuntimeClient(os.environ["AWS_LAMBDA_RUNTIME_API"])
    setup_logging()

    error = None
    try:
        handler = load_handler(handler_spec)
    except Fault as f:
        error = make_error(f.msg, f.error_type, f.trace)
    except Exception:
        error = fault_result(sys.exc_info())
    if error is not None:
        log_error(error)
        client.request(
            "POST",
            "/init/error",
            json.dumps(error).encode("utf-8"),
            {ERROR_TYPE_HEADER: error["errorType"], "Content-Type": "application/json"},
        )
        sys.exit(1)

    while True:
        resp, body = client.request("GET", "/invocation/next")
        if resp.status != 200:
            raise RuntimeError("Runtime API /next answered %d: %r" % (resp.status, body))
        request_id = resp.getheader("Lambda-Runtime-Aws-Request-Id")
        REQUEST_ID = request_id
        trace_id = resp.getheader("Lambda-Runtime-Trace-Id")
        if trace_id:
            os.environ["_X_AMZN_TRACE_ID"] = trace_id
        else:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        try:
            client_context = resp.getheader("Lambda-Runtime-Client-Context")
            context = LambdaContext(
                request_id,
                int(resp.getheader("Lambda-Runtime-Deadline-Ms") or 0),
                resp.getheader("Lambda-Runtime-Invoked-Function-Arn"),
                json.loads(client_context) if client_context else None,
            )
            event = json.loads(body) if body else {}
            payload = marshal(handler(event, context))
        except Fault as f:
            error = make_error(f.msg, f.error_type, f.trace, request_id)
        except Exception:
            error = fault_result(sys.exc_info(), request_id)
        else:
            error = None
        if error is None:
            client.request(
                "POST",
                "/invocation/%s/response" % request_id,
                payload,
                {"Content-Type": "application/json"},
            )
        else:
            log_error(error)
            client.request(
                "POST",
                "/invocation/%s/error" % request_id,
                json.dumps(error).encode("utf-8"),
                {ERROR_TYPE_HEADER: error["errorType"], "Content-Type": "application/json"},
            )


if __name__ == "__main__":
    main()
