"""Test doubles — never used in the run path: a scripted chat model, a deterministic responder
that answers newsroom's prompts from their own sources, and a fake OpenAI-compatible server.

`python -m newsroom.testing --port 8765` serves the fake on 127.0.0.1 for trying the LLM engine
with no model: `OPENAI_BASE_URL=http://127.0.0.1:8765/v1 newsroom run --week 2026-W06`.
"""

from __future__ import annotations

import argparse
import json
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field

from newsroom.llm import approx_tokens

_SOURCE = re.compile(
    r'<source id="(?P<id>[^"]+)" outlet="(?P<outlet>[^"]*)">\n(?P<text>.*?)\n</source>', re.S
)
_SENTENCE = re.compile(r"[^。！？!?\n]+[。！？!?]?")


@dataclass
class Reply:
    """What the model should say: text (JSON or not), tool calls, or a failure."""

    content: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)


# ---------------------------------------------------------------- the echo responder
def _first_sentence(text: str) -> str:
    found = _SENTENCE.findall(text.strip())
    return found[0].strip() if found else text.strip()


def _sources(prompt: str) -> list[tuple[str, str, list[str]]]:
    return [
        (m.group("id"), m.group("outlet"), [line for line in m.group("text").splitlines() if line])
        for m in _SOURCE.finditer(prompt)
    ]


def echo(prompt: str, schema: str | None, tools: Sequence[str] = ()) -> Reply:
    """A schema-valid answer built only from what the prompt itself quotes. It follows no
    instruction found inside a <source> block, because it reads those blocks only as data."""
    if tools and schema is None:
        return Reply(content="No item needs more text.")
    sources = _sources(prompt)
    if schema == "ThemePlan":
        themes = re.findall(r"^theme (\S+) \| keywords: ([^\n]*)", prompt, re.M)
        plan = [{"id": t, "title": "、".join(k.split("、")[:2]) + "：本周动向"} for t, k in themes]
        return Reply(json.dumps({"themes": plan, "moves": []}, ensure_ascii=False))
    if schema == "ThemeSection":
        evidence = [
            {"text": _first_sentence(lines[1] if len(lines) > 1 else lines[0]), "cites": [sid]}
            for sid, _, lines in sources[:4]
            if lines
        ]
        background = [
            (sid, line.removeprefix("背景："))
            for sid, _, lines in sources
            for line in lines
            if line.startswith("背景：")
        ]
        sid, text = background[0] if background else (sources[0][0], sources[0][2][0])
        section = {
            "evidence": evidence,
            "impact": {"text": _first_sentence(text), "cites": [sid]},
            # The lead restates the first bullet, resting on it.
            "lead": {"text": evidence[0]["text"] if evidence else "", "rests_on": [1]},
        }
        return Reply(json.dumps(section, ensure_ascii=False))
    if schema == "Frame":
        headings = re.findall(r"^## (.+)$", prompt, re.M)
        bullets = re.findall(r"^- (.+?) \[bullet: ([^\]]+)\]$", prompt, re.M)
        firsts = [
            re.findall(r"^- (.+?) \[bullet: ([^\]]+)\]$", part, re.M)[:1]
            for part in re.split(r"^## .+$", prompt, flags=re.M)[1:]
        ]
        frame = {
            "title": "本周AI周报：" + "；".join(h.split("：")[-1] for h in headings[:2]),
            "lead": [{"text": text, "bullets": [bid]} for text, bid in bullets[:2]],
            "outlook": [
                {"text": f"后续关注：{text}", "bullets": [bid]}
                for first in firsts[:5]
                for text, bid in first
            ],
            # One line per storyline: what its latest story says, in that story's words.
            "storylines": [
                {
                    "storyline": sid,
                    "text": _first_sentence(re.sub(r"^[^\[]*\[[^\]]+\] ", "", lines[-1])),
                    "stories": re.findall(r"^[^\[]*\[([^\]]+)\] ", lines[-1])[:1],
                }
                for sid, _, lines in sources
                if sid.startswith("storyline-") and len(lines) > 1
            ],
            "advice": ["企业决策者：以本周证据为准评估投入。", "研究者：关注可复现的评测。"],
            "closing": "以上内容均据所引来源整理。",
        }
        return Reply(json.dumps(frame, ensure_ascii=False))
    if schema == "Revisions":
        by_id = {sid: lines for sid, _, lines in sources}
        claims = []
        for row in re.findall(r'^\{"claim_id".*\}$', prompt, re.M):
            claim = json.loads(row)
            cited = [c for c in claim["cites"] if c in by_id]
            if cited:
                lines = by_id[cited[0]]
                text = _first_sentence(lines[1] if len(lines) > 1 else lines[0])
                claims.append({"claim_id": claim["claim_id"], "text": text, "cites": cited[:1]})
        return Reply(json.dumps({"claims": claims}, ensure_ascii=False))
    if schema == "Judgements":
        verdicts = [
            {
                "claim_id": json.loads(row)["claim_id"],
                "label": "supported",
                "reason": "the cited source states it",
            }
            for row in re.findall(r'^\{"claim_id".*\}$', prompt, re.M)
        ]
        return Reply(json.dumps({"verdicts": verdicts}, ensure_ascii=False))
    return Reply(content="{}")


def _schema_of(kwargs: dict[str, Any]) -> tuple[str | None, list[str]]:
    fmt = kwargs.get("response_format") or (kwargs.get("extra_body") or {}).get("response_format")
    fmt = fmt or {}
    schema = (fmt.get("json_schema") or {}).get("name") if isinstance(fmt, dict) else None
    tools = [t.get("function", {}).get("name", "") for t in kwargs.get("tools") or []]
    choice = kwargs.get("tool_choice")
    if isinstance(choice, dict) and choice.get("function"):
        schema = choice["function"]["name"]
    return schema, tools


# ---------------------------------------------------------------- scripted chat model


class ScriptedChatModel(BaseChatModel):
    """Returns queued replies in order and records every call it gets. When the queue is empty
    it answers with `echo`, unless `strict` is set, in which case it fails the test."""

    replies: list[Any] = Field(default_factory=list)
    calls: list[dict[str, Any]] = Field(default_factory=list)
    strict: bool = False
    respond: Any = None  # (messages, kwargs) -> reply, used instead of `echo` when set
    model_name: str = "scripted"

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        prompt = "\n".join(str(m.content) for m in messages)
        schema, tools = _schema_of(kwargs)
        self.calls.append({"messages": messages, "kwargs": kwargs, "schema": schema})
        if self.replies:
            reply: Any = self.replies.pop(0)
        elif self.strict:
            raise AssertionError(f"no reply queued for call {len(self.calls)} ({schema})")
        elif self.respond is not None:
            reply = self.respond(messages, kwargs)
        else:
            reply = echo(prompt, schema, tools)
        if callable(reply) and not isinstance(reply, BaseMessage | Reply):
            reply = reply(messages, kwargs)
        if isinstance(reply, Exception):
            raise reply
        if isinstance(reply, dict):
            reply = json.dumps(reply, ensure_ascii=False)
        if isinstance(reply, str):
            reply = Reply(content=reply)
        if isinstance(reply, Reply):
            reply = AIMessage(
                content=reply.content,
                tool_calls=[
                    {"name": c["name"], "args": c["args"], "id": f"call-{i}", "type": "tool_call"}
                    for i, c in enumerate(reply.tool_calls)
                ],
            )
        output = str(reply.content) + json.dumps([c["args"] for c in reply.tool_calls])
        reply.usage_metadata = {
            "input_tokens": approx_tokens(prompt),
            "output_tokens": approx_tokens(output),
            "total_tokens": approx_tokens(prompt) + approx_tokens(output),
        }
        return ChatResult(generations=[ChatGeneration(message=reply)])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        # Answered in the event loop, as a real client's async call is: LangChain's default
        # sends a model without one to a worker thread, a hop real models never make.
        return self._generate(messages, stop, None, **kwargs)


def scripted_engine(
    embedder: Any = None,
    model: str = "scripted",
    *,
    per_agent_model: bool = False,
    api_key: str | None = None,
    max_tokens: int = 2048,
    **models: ScriptedChatModel,
) -> tuple[Any, dict[str, ScriptedChatModel]]:
    """The LLM engine on scripted chat models (`echo` unless an agent's model is given), and
    the models, so that a test can read the calls each agent made."""
    from newsroom.agents import llm_engine
    from newsroom.config import AGENTS
    from newsroom.llm import ModelConfig

    chosen = {agent: models.get(agent) or ScriptedChatModel() for agent in AGENTS}
    configs = {
        agent: ModelConfig(
            model=f"{model}-{agent}" if per_agent_model else model,
            api_key=api_key,
            max_tokens=max_tokens,
        )
        for agent in AGENTS
    }
    return llm_engine(configs, embedder, models=chosen), chosen


# ---------------------------------------------------------------- fake OpenAI-compatible server
@dataclass
class HttpStep:
    """One scripted HTTP answer: a status (an error body unless 200), a delay before it, and
    optionally the exact content of a 200 reply."""

    status: int = 200
    delay: float = 0.0
    content: str | None = None
    headers: dict[str, str] = field(default_factory=dict)  # e.g. {"Retry-After": "1"}
    # Usage to report in place of the counted one: an overbilling server, e.g.
    # {"prompt_tokens": 10**6}.
    usage: dict[str, int] | None = None
    # Streamed replies: seconds between two chunks (a slow but live server), and the number of
    # chunks after which the server goes silent without closing (a stuck one).
    chunk_delay: float = 0.0
    stall_after: int | None = None
    finish_reason: str | None = None  # e.g. "length": a reply cut at max_tokens


class FakeOpenAIServer:
    """`/v1/chat/completions` on 127.0.0.1: scripted answers first, then `echo`. Records every
    request. Usage counts approximate tokens of the prompt and the reply. A request with
    `stream: true` is answered as server-sent events, usage last when asked for; set
    `streaming = False` for a server that does not stream (it answers such a request 400)."""

    def __init__(self, port: int = 0) -> None:
        self.requests: list[dict[str, Any]] = []
        self.script: list[HttpStep] = []
        # Answer every n-th request with `fail_status` (0: never), e.g. 2 and 429.
        self.fail_every = 0
        self.fail_status = 429
        self.streaming = True
        self._stop = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                owner.requests.append(body)
                step = owner.script.pop(0) if owner.script else HttpStep()
                if owner.fail_every and len(owner.requests) % owner.fail_every == 0:
                    step = HttpStep(status=owner.fail_status)
                if step.delay and owner._stop.wait(step.delay):
                    return
                if step.status != 200:
                    self._send(
                        step.status,
                        {"error": {"message": "scripted failure", "type": "server_error"}},
                        step.headers,
                    )
                    return
                if body.get("stream") and not owner.streaming:
                    self._send(
                        400,
                        {"error": {"message": "stream is not supported", "type": "invalid"}},
                    )
                    return
                reply = owner.completion(body, step.content)
                if step.usage is not None:
                    reply["usage"] = {**reply["usage"], **step.usage}
                if step.finish_reason:
                    reply["choices"][0]["finish_reason"] = step.finish_reason
                if body.get("stream"):
                    self._stream(reply, body, step)
                    return
                self._send(200, reply, step.headers)

            def _stream(self, reply: dict[str, Any], body: dict[str, Any], step: HttpStep) -> None:
                """The reply as server-sent events: role, content (or tool-call arguments) in
                pieces, the finish reason, then usage when the client asked for it."""
                choice = reply["choices"][0]
                message = choice["message"]
                base = {k: reply[k] for k in ("id", "created", "model")}
                base["object"] = "chat.completion.chunk"

                def event(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
                    return {
                        **base,
                        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                    }

                calls = message.get("tool_calls") or []
                text = message.get("content") or (
                    calls[0]["function"]["arguments"] if calls else ""
                )
                pieces = [text[i : i + 24] for i in range(0, len(text), 24)] or [""]
                events = [event({"role": "assistant", "content": ""})]
                if calls:
                    head = {"index": 0, "id": calls[0]["id"], "type": "function"}
                    function = {"name": calls[0]["function"]["name"], "arguments": ""}
                    events.append(event({"tool_calls": [{**head, "function": function}]}))
                    events += [
                        event({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
                        for piece in pieces
                    ]
                else:
                    events += [event({"content": piece}) for piece in pieces]
                events.append(event({}, choice["finish_reason"]))
                if (body.get("stream_options") or {}).get("include_usage"):
                    events.append({**base, "choices": [], "usage": reply["usage"]})
                try:
                    self.send_response(200)
                    for name, value in step.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Cache-Control", "no-cache")
                    self.end_headers()
                    for number, payload in enumerate(events):
                        if step.stall_after is not None and number >= step.stall_after:
                            owner._stop.wait(3600)  # silent, connection open
                            return
                        if number and step.chunk_delay and owner._stop.wait(step.chunk_delay):
                            return
                        data = json.dumps(payload, ensure_ascii=False)
                        self.wfile.write(f"data: {data}\n\n".encode())
                        self.wfile.flush()
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    return

            def _send(
                self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
            ) -> None:
                data = json.dumps(payload, ensure_ascii=False).encode()
                try:
                    self.send_response(status)
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def completion(self, body: dict[str, Any], content: str | None) -> dict[str, Any]:
        messages = body.get("messages", [])
        prompt = "\n".join(
            m["content"] if isinstance(m.get("content"), str) else json.dumps(m.get("content"))
            for m in messages
        )
        schema, tools = _schema_of(body)
        reply = Reply(content=content) if content is not None else echo(prompt, schema, tools)
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        finish = "stop"
        if body.get("tool_choice") and schema:
            message = {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call-0",
                        "type": "function",
                        "function": {"name": schema, "arguments": reply.content},
                    }
                ],
            }
            finish = "tool_calls"
        output = reply.content
        return {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {
                "prompt_tokens": approx_tokens(prompt),
                "completion_tokens": approx_tokens(output),
                "total_tokens": approx_tokens(prompt) + approx_tokens(output),
            },
        }

    def __enter__(self) -> FakeOpenAIServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def main() -> None:  # pragma: no cover - manual use
    parser = argparse.ArgumentParser(description="A fake OpenAI-compatible server for newsroom.")
    parser.add_argument("--port", type=int, default=8765)
    port = parser.parse_args().port
    with FakeOpenAIServer(port) as server:
        print(f"fake OpenAI-compatible server at {server.base_url}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":  # pragma: no cover
    main()
