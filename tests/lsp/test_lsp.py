"""lambda-ls as a language server, driven end to end by pytest-lsp: a strict client we did not
write, starting the built binary on stdio. Deploys and invokes go to the embedded local Lambda
(loopback only); HOME has no AWS files, so `local` is the selected profile."""

import asyncio
import os
import pathlib
import tempfile
import textwrap

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
        (3, "Logs"),
        (9, "Deploy"),
        (9, "Invoke"),
        (9, "Logs"),
        (13, "Deploy as Lambda (callable)"),
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
