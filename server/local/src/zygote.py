"""lambda-ls spare worker: a Python interpreter started before it is needed.

Started as `python zygote.py awslambdaric` or `python zygote.py BOOTSTRAP_PATH`, it imports what
that runtime client imports before the handler (awslambdaric itself included, with the values of
the variables it reads then that its workers will have), then waits on stdin for what the worker
would have been exec'ed with: its argv, its whole environment and its working directory
(NUL-separated: argc, argv..., envc, KEY=VALUE..., cwd). It applies them as a fresh interpreter
would have had them at start-up and runs the runtime client as `python -m awslambdaric HANDLER`
or `python bootstrap.py HANDLER` would, so the handler's import (the INIT phase) stays real.

When the settings could have changed the interpreter's own start-up (a PYTHON*, locale or
loader variable differs from the one this process started with), a variable read while importing
here has another value in the worker's environment, or a module imported here is shadowed by a
file in the task root or a layer (the runtime client would have imported that file instead), it
exec's that exact command instead: slower, never different.

Nothing defined here stays: `__main__`'s namespace is emptied before the runtime client runs in
it, as a fresh interpreter's would be.
"""


def _zygote():
    import os
    import sys
    import _imp

    started_with = _exec_environ(os)
    # What the interpreter itself added to its environment at start-up (PEP 538's LC_CTYPE
    # under the C locale): a fresh worker's interpreter adds the same when its start-up
    # variables are the same, which is the condition for going on here at all.
    added = {k: v for k, v in os.environb.items() if started_with.get(k) != v}
    own_argv = list(sys.orig_argv)
    ric = sys.argv[1] == "awslambdaric"
    if ric:
        # What `python -m awslambdaric` imports before the handler, in its order (`-m` imports
        # runpy first). Some of it reads the environment when imported, so the spare is started
        # with its workers' values of that (`spare.rs`), its Runtime API address included,
        # which the C extension `runtime_client` reads once, when loaded.
        preload = ("runpy", "simplejson", "decimal", "importlib", "json", "logging", "math",
                   "time", "traceback", "enum", "awslambdaric", "awslambdaric.lambda_config",
                   "awslambdaric.lambda_runtime_client", "awslambdaric.bootstrap")
        expected = [own_argv[0], "-m", "awslambdaric"]
    else:
        preload = ("decimal", "http.client", "importlib", "json", "logging", "time", "traceback")
        expected = [own_argv[0], sys.argv[1]]
    read = _reading_environ(os, lambda: _preload(os, sys, preload, ric))
    if ric:
        read.setdefault(b"AWS_LAMBDA_RUNTIME_API", os.environb.get(b"AWS_LAMBDA_RUNTIME_API"))

    chunks = []
    while True:
        chunk = os.read(0, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    fields = b"".join(chunks).split(b"\0")
    del chunks
    if len(fields) < 4:
        # Stopped without work (the server went away): nothing to run.
        os._exit(0)
    argc = int(fields[0])
    argv = fields[1:1 + argc]
    envc = int(fields[1 + argc])
    env = dict(item.partition(b"=")[::2] for item in fields[2 + argc:2 + argc + envc])
    cwd = fields[2 + argc + envc]
    del fields

    null = os.open("/dev/null", os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.chdir(cwd)

    def sensitive(key):
        """Read by the interpreter, the C library or site.py at start-up."""
        return (
            (key.startswith(b"PYTHON") and key != b"PYTHONPATH")
            or key.startswith((b"LC_", b"LD_", b"MALLOC_"))
            or key in (b"LANG", b"LANGUAGE", b"HOME", b"TZ", b"TZDIR", b"GLIBC_TUNABLES",
                       b"LOCPATH", b"GCONV_PATH", b"NLSPATH", b"SETUPTOOLS_USE_DISTUTILS")
        )

    python_path = [os.path.abspath(os.fsdecode(p))
                   for p in env.get(b"PYTHONPATH", b"").split(b":") if env.get(b"PYTHONPATH")]

    def shadowed():
        """Whether a module imported so far has a namesake earlier on the worker's path."""
        names = {n.partition(".")[0] for n, m in list(sys.modules.items())
                 if n != "__main__" and getattr(m, "__file__", None)}
        names.update(("sitecustomize", "usercustomize"))
        suffixes = [".py", ".pyc"] + _imp.extension_suffixes()
        for d in python_path + [os.getcwd()]:
            try:
                entries = os.listdir(d)
            except OSError:
                continue
            for entry in entries:
                stem = entry.partition(".")[0]
                if stem in names and (stem == entry or any(
                        entry == stem + s for s in suffixes)):
                    return True
        return False

    same_start = all(started_with.get(k) == env.get(k)
                     for k in set(started_with) | set(env) if sensitive(k))
    # What was imported here read these variables: the worker's values must be the same.
    same_imports = None not in read and all(env.get(k) == v for k, v in read.items())
    args = [os.fsdecode(a) for a in argv]
    if not same_start or not same_imports or args[:len(expected)] != expected \
            or len(args) != len(expected) + 1 or shadowed():
        os.execve(argv[0], argv, env)

    environb = os.environb
    for key in list(environb):
        del environb[key]
    for key, value in env.items():
        environb[key] = value
    for key, value in added.items():
        environb[key] = value
    del env, started_with, added, read

    # sys.path as start-up builds it: [path0] + PYTHONPATH + the rest, made absolute and without
    # duplicates (site.removeduppaths); `-m` puts the working directory first, a script its
    # directory, which is this file's.
    own_path0 = sys.path[0]
    rest, seen = [], set()
    for p in python_path + sys.path[1:]:
        if p not in seen:
            seen.add(p)
            rest.append(p)
    sys.path[:] = [os.getcwd() if ric else own_path0] + rest
    if own_path0 not in sys.path:
        sys.path_importer_cache.pop(own_path0, None)
    # Start-up asks whether the script given is itself a path entry (a zip, a directory).
    sys.path_importer_cache.pop(own_argv[1], None)
    if not ric:
        sys.path_importer_cache[args[1]] = None
    sys.orig_argv[:] = args
    sys.argv[:] = ["-m"] + args[3:] if ric else args[1:]

    # logging timestamps `relativeCreated` from its import; that was the spare's start.
    logging = sys.modules.get("logging")
    if logging is not None:
        import time
        started = getattr(logging, "_startTime", None)
        if isinstance(started, int):
            logging._startTime = time.time_ns()
        elif isinstance(started, float):
            logging._startTime = time.time()

    main = sys.modules["__main__"].__dict__
    loader = type(main["__loader__"])
    fresh = ("__name__", "__doc__", "__package__", "__loader__", "__spec__", "__annotations__",
             "__builtins__")
    for key in list(main):
        if key not in fresh:
            del main[key]
    main["__doc__"] = None
    if ric:
        import runpy
        runpy._run_module_as_main("awslambdaric")
    else:
        path = args[1]
        main.update(__file__=path, __cached__=None, __loader__=loader("__main__", path))
        with open(path, "rb") as f:
            source = f.read()
        exec(compile(source, path, "exec", dont_inherit=True), main)


def _exec_environ(os):
    """The environment this process was exec'ed with, before the interpreter changed it."""
    try:
        with open("/proc/self/environ", "rb") as f:
            block = f.read()
    except OSError:
        return dict(os.environb)
    return dict(item.partition(b"=")[::2] for item in block.split(b"\0") if item)


def _reading_environ(os, run):
    """Runs `run` and returns which variables it read, with their values then (None if unset);
    a None key if it went through them all."""
    environ_type = type(os.environ)
    get, iterate = environ_type.__getitem__, environ_type.__iter__
    read = {}

    def tracked_get(self, key):
        name = os.fsencode(key)
        try:
            value = get(self, key)
        except KeyError:
            read.setdefault(name, None)
            raise
        read.setdefault(name, os.fsencode(value))
        return value

    def tracked_iter(self):
        read[None] = None
        return iterate(self)

    environ_type.__getitem__, environ_type.__iter__ = tracked_get, tracked_iter
    try:
        run()
    finally:
        environ_type.__getitem__, environ_type.__iter__ = get, iterate
    return read


def _preload(os, sys, names, ric):
    """Imports `names`, and what awslambdaric's `main` imports before the handler's import."""
    for name in names:
        try:
            __import__(name)
        except Exception:
            pass
    if not ric:
        return
    try:
        from awslambdaric.lambda_config import LambdaConfigProvider
        polls_from_thread = os.environ.get("AWS_EXECUTION_ENV") \
            in LambdaConfigProvider.SUPPORTED_THREADPOLLING_ENVS
        # Another mode altogether, which may import other things.
        alone = os.environ.get("AWS_LAMBDA_MAX_CONCURRENCY") is None
        if polls_from_thread and alone:
            # As LambdaRuntimeClient does it, so the package's attribute is set too.
            from concurrent.futures import ThreadPoolExecutor  # noqa: F401
    except Exception:
        pass


_zygote()
