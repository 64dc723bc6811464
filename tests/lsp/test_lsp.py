"""lambda-ls as a language server, driven end to end by pytest-lsp: a strict client we did not
write, starting the built binary on stdio. Deploys and invokes go to the embedded local Lambda
(loopback only); HOME has no AWS files, so `local` is the selected profile. The AWS tests at the
end deploy to a moto server on 127.0.0.1 through a profile whose endpoint_url points at it."""

import asyncio
import json
import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, LspSpecificationWarning
from pytest_lsp import client_capabilities

REPO = pathlib.Path(__file__).resolve().parents[2]
BIN = os.environ.get("LAMBDA_LS_BIN", str(REPO / "target" / "debug" / "lambda-ls"))
# Every wait is bounded: a hung server fails the test instead of the run.
TIMEOUT = 90

_STATE = tempfile.TemporaryDirectory(prefix="lambda-ls-pytest-lsp-")
HOME = pathlib.Path(_STATE.name) / "home"
HOME.mkdir()
LOCAL_DIR = pathlib.Path(_STATE.name) / "local"


def server_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        HOME=str(HOME),
        LAMBDA_LS_LOCAL_DIR=str(LOCAL_DIR),
        AWS_EC2_METADATA_DISABLED="true",
    )
    # A `python3.12` on PATH may be a version-manager shim for a version that is not installed;
    # pin the interpreter unless the caller chose one.
    env.setdefault("LAMBDA_LS_PYTHON", "python3")
    return env


FILES = {
    "requirements.txt": "",
    "app.py": textwrap.dedent(
        '''\
        from helpers import explode


        def handler(event, context):
            name = (event or {}).get("name", "world")
            print(f"greeting {name}")
            return {"statusCode": 200, "body": f"Hello, {name}!"}


        def fail(event, context):
            return explode(event)


        def add(a, b=1):
            return a + b


        def _helper():
            return None
        '''
    ),
    "helpers.py": textwrap.dedent(
        '''\
        def explode(event):
            message = "cannot handle %r" % (event,)
            raise ValueError(message)
        '''
    ),
}


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "project"
    for name, text in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=[BIN], server_env=server_env()),
)
async def client(lsp_client: LanguageClient, project):
    # VS Code answers these refresh requests (its capabilities say so); pytest-lsp's client does
    # not implement them by itself, so count them here.
    lsp_client.refreshes = []

    @lsp_client.feature(types.WORKSPACE_CODE_LENS_REFRESH)
    def code_lens_refresh(client: LanguageClient, params):
        client.refreshes.append("codeLens")

    @lsp_client.feature(types.WORKSPACE_INLAY_HINT_REFRESH)
    def inlay_hint_refresh(client: LanguageClient, params):
        client.refreshes.append("inlayHint")

    lsp_client.profiles = []

    @lsp_client.feature("lambdaLs/profileChanged")
    def profile_changed(client: LanguageClient, params):
        client.profiles.append(params)

    lsp_client.registrations = []

    @lsp_client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def register_capability(client: LanguageClient, params: types.RegistrationParams):
        client.registrations.extend(params.registrations)

    await asyncio.wait_for(
        lsp_client.initialize_session(
            types.InitializeParams(
                capabilities=client_capabilities("visual-studio-code"),
                root_uri=project.as_uri(),
                workspace_folders=[
                    types.WorkspaceFolder(uri=project.as_uri(), name="project")
                ],
            )
        ),
        TIMEOUT,
    )
    yield
    await asyncio.wait_for(lsp_client.shutdown_session(), TIMEOUT)


def open_file(client: LanguageClient, project: pathlib.Path, name: str) -> str:
    path = project / name
    uri = path.as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=1, text=path.read_text()
            )
        )
    )
    return uri


async def command(client: LanguageClient, name: str, *arguments):
    return await asyncio.wait_for(
        client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=name, arguments=list(arguments))
        ),
        TIMEOUT,
    )


def no_spec_warnings(recwarn):
    spec = [str(w.message) for w in recwarn if issubclass(w.category, LspSpecificationWarning)]
    assert spec == [], spec


async def test_code_lenses_over_handlers_and_callables(client: LanguageClient, project, recwarn):
    uri = open_file(client, project, "app.py")
    lenses = await asyncio.wait_for(
        client.text_document_code_lens_async(
            types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=uri))
        ),
        TIMEOUT,
    )
    titles = [(lens.range.start.line, lens.command.title) for lens in lenses]
    assert titles == [
        (3, "Deploy"),
        (3, "Invoke"),
        (3, "Debug"),
        (3, "Logs"),
        (3, "Live"),
        (9, "Deploy"),
        (9, "Invoke"),
        (9, "Debug"),
        (9, "Logs"),
        (9, "Live"),
        (13, "Deploy as Lambda (callable)"),
        (13, "Debug"),
    ]
    assert lenses[0].command.command == "lambda.deploy"
    assert list(lenses[0].command.arguments) == [{"uri": uri, "function": "handler"}]
    no_spec_warnings(recwarn)


async def test_deploy_reports_progress(client: LanguageClient, project, recwarn):
    uri = open_file(client, project, "app.py")
    outcome = await command(client, "lambda.deploy", {"uri": uri, "function": "handler"})
    assert outcome["function_name"] == "app-handler"
    assert outcome["target"]["local"] is True

    assert len(client.progress_reports) == 1, client.progress_reports
    (reports,) = client.progress_reports.values()
    for _ in range(TIMEOUT * 10):
        if reports and reports[-1].kind == "end":
            break
        await asyncio.sleep(0.1)
    assert reports[0].kind == "begin" and reports[0].title == "Deploying app-handler"
    assert reports[-1].kind == "end"
    messages = [r.message for r in reports if r.kind == "report"]
    assert "packaging" in messages, messages
    assert any(m.startswith("uploading") for m in messages), messages

    lenses = await client.text_document_code_lens_async(
        types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    assert "deployed to local · just now" in [lens.command.title for lens in lenses]
    no_spec_warnings(recwarn)


async def test_invoke_result_is_an_inlay_hint(client: LanguageClient, project, recwarn):
    uri = open_file(client, project, "app.py")
    await command(client, "lambda.deploy", {"uri": uri, "function": "handler"})
    outcome = await command(
        client, "lambda.invoke", {"uri": uri, "function": "handler", "payload": {"name": "pytest"}}
    )
    assert outcome["payload"] == {"statusCode": 200, "body": "Hello, pytest!"}
    assert outcome["function_error"] is None

    hints = await asyncio.wait_for(
        client.text_document_inlay_hint_async(
            types.InlayHintParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=types.Range(
                    start=types.Position(line=0, character=0),
                    end=types.Position(line=30, character=0),
                ),
            )
        ),
        TIMEOUT,
    )
    assert len(hints) == 1
    assert hints[0].position == types.Position(line=3, character=28)
    assert hints[0].label.startswith('→ {"body":"Hello, pytest!","statusCode":200}')
    assert hints[0].label.endswith(" ms")
    assert any("Hello, pytest!" in m.message for m in client.log_messages)
    assert "codeLens" in client.refreshes
    no_spec_warnings(recwarn)


async def hint_with(client: LanguageClient, uri: str, text: str) -> str:
    """Waits until the inline result on `uri` contains `text`; returns the label."""
    for _ in range(TIMEOUT * 10):
        hints = await client.text_document_inlay_hint_async(
            types.InlayHintParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=types.Range(
                    start=types.Position(line=0, character=0),
                    end=types.Position(line=30, character=0),
                ),
            )
        )
        for h in hints or []:
            if text in h.label:
                return h.label
        await asyncio.sleep(0.1)
    raise AssertionError(f"no inline result with {text}")


def save(client: LanguageClient, path: pathlib.Path, text: str):
    path.write_text(text)
    client.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=path.as_uri()))
    )


async def test_live_mode_follows_saves_and_keeps_the_result_on_a_syntax_error(
    client: LanguageClient, project, recwarn
):
    uri = open_file(client, project, "app.py")
    app = project / "app.py"
    on = await command(
        client, "lambda.live", {"uri": uri, "function": "handler", "payload": {"name": "live"}}
    )
    assert on == {"live": True, "function": "handler", "profile": "local"}
    await hint_with(client, uri, '"body":"Hello, live!"')

    save(client, app, app.read_text().replace('f"Hello, {name}!"', 'f"Bye, {name}!"'))
    await hint_with(client, uri, '"body":"Bye, live!"')

    save(client, app, app.read_text().replace("def handler(event, context):", "def handler(event, context)"))
    for _ in range(TIMEOUT * 10):
        if any(d.message.startswith("SyntaxError") for d in client.diagnostics.get(uri, [])):
            break
        await asyncio.sleep(0.1)
    (diagnostic,) = client.diagnostics[uri]
    assert diagnostic.severity == types.DiagnosticSeverity.Error
    # Not deployed: the previous code still answers, and its result stays.
    await hint_with(client, uri, '"body":"Bye, live!"')
    outcome = await command(
        client, "lambda.invoke", {"uri": uri, "function": "handler", "payload": {"name": "again"}}
    )
    assert outcome["payload"]["body"] == "Bye, again!"
    no_spec_warnings(recwarn)


async def test_raising_handler_becomes_a_diagnostic(client: LanguageClient, project, recwarn):
    uri = open_file(client, project, "app.py")
    await command(client, "lambda.deploy", {"uri": uri, "function": "fail"})
    outcome = await command(
        client, "lambda.invoke", {"uri": uri, "function": "fail", "payload": {"x": 1}}
    )
    assert outcome["function_error"] == "Unhandled"
    assert outcome["error"]["errorType"] == "ValueError"

    helpers = (project / "helpers.py").as_uri()
    for _ in range(TIMEOUT * 10):
        if client.diagnostics.get(helpers):
            break
        await asyncio.sleep(0.1)
    (diagnostic,) = client.diagnostics[helpers]
    # The deepest frame in the package: the `raise` in helpers.py.
    assert diagnostic.range.start == types.Position(line=2, character=4)
    assert diagnostic.message == "ValueError: cannot handle {'x': 1}"
    assert diagnostic.severity == types.DiagnosticSeverity.Error
    no_spec_warnings(recwarn)


async def test_list_profiles_contains_local(client: LanguageClient, recwarn):
    for _ in range(TIMEOUT * 10):
        if client.profiles:
            break
        await asyncio.sleep(0.1)
    (announced,) = client.profiles
    assert (announced.profile, announced.region, announced.kind) == ("local", "us-east-1", "local")
    listing = await command(client, "lambda.listProfiles")
    assert listing["selected"] == "local"
    assert {"name": "local", "region": "us-east-1", "kind": "local", "selected": True} in listing[
        "profiles"
    ]
    no_spec_warnings(recwarn)


# ---------------------------------------------------------------------------------------------
# lambda.toml with VS Code's capabilities (dynamic registration)

PROJECT_TOML = textwrap.dedent(
    """\
    [defaults]
    memroy = 256
    timeout = 901

    [[function]]
    target = "app.py:add"
    """
)


async def wait_until(predicate, what):
    """Waits (bounded) for `predicate`; `what` names it, or is a callable that describes it."""
    for _ in range(TIMEOUT * 10):
        if predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what() if callable(what) else what}")


async def test_lambda_toml_is_registered_checked_completed_and_documented(
    client: LanguageClient, project, recwarn
):
    await wait_until(lambda: client.registrations, "client/registerCapability")
    by_method = {r.method: r for r in client.registrations}
    assert set(by_method) == {
        "textDocument/didOpen",
        "textDocument/didChange",
        "textDocument/didSave",
        "textDocument/didClose",
        "textDocument/completion",
        "textDocument/hover",
    }
    assert by_method["textDocument/didOpen"].register_options["documentSelector"] == [
        {"scheme": "file", "pattern": "**/lambda.toml"}
    ]

    toml = project / "lambda.toml"
    toml.write_text(PROJECT_TOML)
    uri = toml.as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="toml", version=1, text=PROJECT_TOML
            )
        )
    )
    await wait_until(lambda: client.diagnostics.get(uri), "lambda.toml diagnostics")
    got = [
        (d.range.start.line, d.range.start.character, d.range.end.character, d.message)
        for d in client.diagnostics[uri]
    ]
    assert got[0][:3] == (1, 0, 6) and got[0][3].startswith("unknown key `memroy`"), got
    assert got[1] == (2, 10, 13, "timeout must be between 1 and 900 seconds, got 901"), got
    assert len(got) == 2, got

    # Fixing both lines clears them.
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(
                        start=types.Position(line=1, character=0),
                        end=types.Position(line=2, character=13),
                    ),
                    text="memory = 256\ntimeout = 30",
                )
            ],
        )
    )
    await wait_until(
        lambda: list(client.diagnostics.get(uri, [None])) == [],
        lambda: f"cleared diagnostics, still {client.diagnostics.get(uri)}",
    )

    items = await asyncio.wait_for(
        client.text_document_completion_async(
            types.CompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(line=2, character=2),
            )
        ),
        TIMEOUT,
    )
    items = items.items if hasattr(items, "items") else items
    timeout = next(i for i in items if i.label == "timeout")
    assert timeout.text_edit.new_text == "timeout"
    assert timeout.text_edit.range == types.Range(
        start=types.Position(line=2, character=0), end=types.Position(line=2, character=7)
    )
    assert "1–900" in timeout.documentation.value
    assert "memory" not in [i.label for i in items]

    hover = await asyncio.wait_for(
        client.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(line=1, character=2),
            )
        ),
        TIMEOUT,
    )
    assert hover.contents.kind == types.MarkupKind.Markdown
    assert hover.contents.value.startswith("**memory**")

    # `add` is configured in lambda.toml: a handler for the lenses.
    app = open_file(client, project, "app.py")
    lenses = await asyncio.wait_for(
        client.text_document_code_lens_async(
            types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=app))
        ),
        TIMEOUT,
    )
    assert [(l.range.start.line, l.command.title) for l in lenses if l.range.start.line == 13] == [
        (13, "Deploy"),
        (13, "Invoke"),
        (13, "Debug"),
        (13, "Logs"),
        (13, "Live"),
    ]
    no_spec_warnings(recwarn)


# ---------------------------------------------------------------------------------------------
# A real AWS profile (moto on 127.0.0.1): the question before deploying


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


MOTO_PORT = _free_port()
AWS_DIR = pathlib.Path(_STATE.name) / "aws"
AWS_DIR.mkdir()
CLOSED_PORT = _free_port()
(AWS_DIR / "config").write_text(
    f"[profile moto]\nregion = us-east-1\nendpoint_url = http://127.0.0.1:{MOTO_PORT}\n\n"
    # Nobody listens here: STS cannot say whose account it is.
    f"[profile offline]\nregion = us-east-1\nendpoint_url = http://127.0.0.1:{CLOSED_PORT}\n"
)
(AWS_DIR / "credentials").write_text(
    "[moto]\naws_access_key_id = AKIDMOTOTESTING\naws_secret_access_key = moto-secret\n\n"
    "[offline]\naws_access_key_id = AKIDMOTOTESTING\naws_secret_access_key = moto-secret\n"
)


def aws_server_env():
    env = server_env()
    env.update(
        AWS_CONFIG_FILE=str(AWS_DIR / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(AWS_DIR / "credentials"),
    )
    return env


def _moto_call(method: str, path: str, body: bytes | None = None) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{MOTO_PORT}{path}", data=body, method=method
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status


@pytest.fixture(scope="module")
def moto():
    server = pathlib.Path(sys.executable).parent / "moto_server"
    process = subprocess.Popen(
        [str(server), "-H", "127.0.0.1", "-p", str(MOTO_PORT)],
        env={**os.environ, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if _moto_call("GET", "/moto-api/") == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "moto did not start within 30 s"
            time.sleep(0.1)
        _moto_call("POST", "/moto-api/config", json.dumps({"lambda": {"use_docker": False}}).encode())
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)


HOLD = "(hold the question open)"


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=[BIN], server_env=aws_server_env()),
)
async def aws_client(lsp_client: LanguageClient, project, moto):
    lsp_client.questions = []
    lsp_client.answers = []

    @lsp_client.feature(types.WORKSPACE_CODE_LENS_REFRESH)
    def code_lens_refresh(client: LanguageClient, params):
        pass

    @lsp_client.feature(types.WORKSPACE_INLAY_HINT_REFRESH)
    def inlay_hint_refresh(client: LanguageClient, params):
        pass

    @lsp_client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def register_capability(client: LanguageClient, params):
        pass

    # An answer of HOLD leaves the question open until `client.held` is given a title.
    lsp_client.held = None

    @lsp_client.feature(types.WINDOW_SHOW_MESSAGE_REQUEST)
    async def show_message_request(client: LanguageClient, params: types.ShowMessageRequestParams):
        client.questions.append(params)
        title = client.answers.pop(0) if client.answers else None
        if title == HOLD:
            client.held = asyncio.get_running_loop().create_future()
            title = await client.held
        return None if title is None else types.MessageActionItem(title=title)

    await asyncio.wait_for(
        lsp_client.initialize_session(
            types.InitializeParams(
                capabilities=client_capabilities("visual-studio-code"),
                root_uri=project.as_uri(),
                initialization_options={"profile": "moto"},
            )
        ),
        TIMEOUT,
    )
    yield
    await asyncio.wait_for(lsp_client.shutdown_session(), TIMEOUT)


async def test_deploying_to_aws_asks_first_and_cancel_deploys_nothing(
    aws_client: LanguageClient, project, recwarn
):
    client = aws_client
    uri = open_file(client, project, "app.py")
    args = {"uri": uri, "function": "handler", "name": "asked-first"}

    client.answers.append("Cancel")
    with pytest.raises(Exception) as cancelled:
        await command(client, "lambda.deploy", args)
    assert getattr(cancelled.value, "code", None) == -32800, repr(cancelled.value)
    (question,) = client.questions
    assert question.message == "Deploy to AWS account 123456789012 in us-east-1 as profile moto?"
    assert question.type == types.MessageType.Warning
    assert [a.title for a in question.actions] == ["Deploy", "Cancel"]
    listed = await command(client, "lambda.listFunctions")
    assert "asked-first" not in [f["name"] for f in listed], listed

    client.answers.append("Deploy")
    outcome = await command(client, "lambda.deploy", args)
    assert outcome["function_name"] == "asked-first"
    assert ":123456789012:" in outcome["function_arn"]
    assert outcome["target"]["profile"] == "moto" and outcome["target"]["local"] is False
    assert len(client.questions) == 2

    # Once agreed, this session does not ask again for this profile.
    again = await command(client, "lambda.deploy", args)
    assert again["action"] == "unchanged"
    assert len(client.questions) == 2

    logs = await command(client, "lambda.logs", {"name": "asked-first", "since": "1h"})
    assert logs["source"] == "cloudwatch" and logs["target"]["profile"] == "moto", logs
    assert isinstance(logs["events"], list)
    no_spec_warnings(recwarn)


async def test_cancel_while_the_question_is_open_deploys_nothing(
    aws_client: LanguageClient, project, recwarn
):
    client = aws_client
    uri = open_file(client, project, "app.py")
    args = {"uri": uri, "function": "handler", "name": "cancelled-at-question"}
    client.answers.append(HOLD)
    deploy = asyncio.ensure_future(command(client, "lambda.deploy", args))
    await wait_until(lambda: client.held is not None, "the question")
    # The progress says it waits for the user; Cancel on it withdraws the question.
    await wait_until(
        lambda: any(
            (getattr(r, "message", None) or "").startswith("waiting for your answer")
            for reports in client.progress_reports.values()
            for r in reports
        ),
        "the waiting progress",
    )
    (token,) = list(client.progress_reports)
    client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
    with pytest.raises(Exception) as cancelled:
        await asyncio.wait_for(deploy, TIMEOUT)
    assert getattr(cancelled.value, "code", None) == -32800, repr(cancelled.value)
    # Deploy, answered after the Cancel: nothing is deployed.
    client.held.set_result("Deploy")
    await asyncio.sleep(1)
    listed = await command(client, "lambda.listFunctions")
    assert "cancelled-at-question" not in [f["name"] for f in listed], listed
    no_spec_warnings(recwarn)


async def test_an_account_that_cannot_be_determined_fails_without_asking(
    aws_client: LanguageClient, project, recwarn
):
    client = aws_client
    uri = open_file(client, project, "app.py")
    await command(client, "lambda.selectProfile", {"profile": "offline"})
    started = time.monotonic()
    with pytest.raises(Exception) as failed:
        await command(client, "lambda.deploy", {"uri": uri, "function": "handler"})
    assert time.monotonic() - started < 30
    assert getattr(failed.value, "code", None) == -32803, repr(failed.value)
    assert "nothing was deployed: cannot tell which AWS account profile offline" in str(
        failed.value
    )
    assert client.questions == []
    no_spec_warnings(recwarn)


async def test_lenses_show_the_selected_profiles_deploys(
    aws_client: LanguageClient, project, recwarn
):
    client = aws_client
    uri = open_file(client, project, "app.py")
    client.answers.append("Deploy")
    await command(client, "lambda.deploy", {"uri": uri, "function": "handler"})

    async def titles():
        lenses = await client.text_document_code_lens_async(
            types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=uri))
        )
        return [l.command.title for l in lenses]

    assert "deployed to lambda/us-east-1 · just now" in await titles()
    await command(client, "lambda.selectProfile", {"profile": "local"})
    assert not [t for t in await titles() if t.startswith("deployed to")]
    await command(client, "lambda.selectProfile", {"profile": "moto"})
    assert "deployed to lambda/us-east-1 · just now" in await titles()
    no_spec_warnings(recwarn)
