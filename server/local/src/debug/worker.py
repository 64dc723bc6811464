"""lambda-ls: runs one worker's runtime client under debugpy, for one debug invocation.

The local Lambda starts it as `python debug_worker.py -m awslambdaric HANDLER` or
`python debug_worker.py bootstrap.py HANDLER`, with LAMBDA_LS_DEBUG_PORT, LAMBDA_LS_DEBUG_WAIT
(seconds) and, when the interpreter has no debugpy of its own, LAMBDA_LS_DEBUGPY (the directory
lambda-ls installed it into). It tells the worker's Runtime API where the session is, so the
function's timeout is held while a debugger waits or is attached.
"""

import os
import runpy
import sys
import threading
import time
import urllib.request

API = os.environ["AWS_LAMBDA_RUNTIME_API"]
# The Runtime API is on loopback: a proxy from the environment must not be asked for it.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def tell(phase):
    url = f"http://{API}/2018-06-01/runtime/lambda-ls/debug/{phase}"
    OPENER.open(urllib.request.Request(url, data=b"", method="POST"), timeout=5).read()


def import_debugpy():
    """debugpy from lambda-ls's cache when given, without leaving that directory on sys.path."""
    extra = os.environ.pop("LAMBDA_LS_DEBUGPY", "")
    if extra:
        sys.path.insert(0, extra)
    try:
        import debugpy
    finally:
        if extra:
            sys.path.remove(extra)
    return debugpy


def report_stop():
    """Says "stopped" before debugpy ends the process for a debugger's terminate request.

    A `terminate`, or a `disconnect` with terminateDebuggee, reaches pydevd's
    `PyDevdAPI.terminate_process`, which ends the process with `os._exit(0)`: the local Lambda
    is told first, so the invocation ends as "stopped by the debugger", not as a crash. A
    debugpy without that method (an interpreter's own, much older or newer) keeps the plain
    exit error.
    """
    try:
        from _pydevd_bundle.pydevd_api import PyDevdAPI
    except ImportError:
        return
    terminate = getattr(PyDevdAPI, "terminate_process", None)
    if terminate is None:
        return

    def terminate_process(self, py_db):
        try:
            tell("stopped")
        finally:
            terminate(self, py_db)

    PyDevdAPI.terminate_process = terminate_process


def watch(debugpy, connected):
    """Reports every attach and detach after the first wait."""
    while True:
        time.sleep(0.1)
        now = debugpy.is_client_connected()
        if now != connected:
            connected = now
            tell("attached" if now else "detached")


def main():
    debugpy = import_debugpy()
    port = int(os.environ.pop("LAMBDA_LS_DEBUG_PORT"))
    wait = float(os.environ.pop("LAMBDA_LS_DEBUG_WAIT"))
    # The function's code is the task root: with justMyCode, lambda-ls's runtime client and this
    # wrapper stay out of the call stack and of stepping. pydevd reads this once, in listen.
    ours = "IDE_PROJECT_ROOTS" not in os.environ
    if ours:
        os.environ["IDE_PROJECT_ROOTS"] = os.environ["LAMBDA_TASK_ROOT"]
    debugpy.listen(("127.0.0.1", port))
    if ours:
        del os.environ["IDE_PROJECT_ROOTS"]
    report_stop()
    tell("waiting")
    # wait_for_client returns once the debugger's configuration (breakpoints) is done.
    timer = threading.Timer(wait, debugpy.wait_for_client.cancel)
    timer.daemon = True
    timer.start()
    debugpy.wait_for_client()
    timer.cancel()
    connected = debugpy.is_client_connected()
    tell("attached" if connected else "unattached")
    watcher = threading.Thread(
        target=watch, args=(debugpy, connected), name="lambda-ls debug watch", daemon=True
    )
    # lambda-ls's thread, not the function's: pydevd leaves threads so marked out of the
    # debugger's thread list and out of its suspends.
    watcher.is_pydev_daemon_thread = True
    watcher.start()
    del sys.argv[0]
    if sys.argv[0] == "-m":
        del sys.argv[0]
        runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
    else:
        runpy.run_path(sys.argv[0], run_name="__main__")


main()
