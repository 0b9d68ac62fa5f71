"""Every span and metric name newsroom emits, in one place.

OpenTelemetry GenAI semantic conventions pinned to v1.41.0 (still "Development", so nothing
else in the code spells these strings), plus the OpenInference names Arize Phoenix reads for its
token and cost columns, plus newsroom's own `newsroom.*` attributes.
"""

from __future__ import annotations

SEMCONV_VERSION = "1.41.0"
SCHEMA_URL = f"https://opentelemetry.io/schemas/{SEMCONV_VERSION}"

# gen_ai.* (v1.41.0)
OPERATION = "gen_ai.operation.name"
PROVIDER = "gen_ai.provider.name"
REQUEST_MODEL = "gen_ai.request.model"
REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
RESPONSE_MODEL = "gen_ai.response.model"
FINISH_REASONS = "gen_ai.response.finish_reasons"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
AGENT_NAME = "gen_ai.agent.name"
TOOL_NAME = "gen_ai.tool.name"
TOOL_TYPE = "gen_ai.tool.type"
TOOL_CALL_ARGUMENTS = "gen_ai.tool.call.arguments"
INPUT_MESSAGES = "gen_ai.input.messages"
OUTPUT_MESSAGES = "gen_ai.output.messages"
TOKEN_TYPE = "gen_ai.token.type"
ERROR_TYPE = "error.type"

OP_CHAT = "chat"
OP_INVOKE_AGENT = "invoke_agent"
OP_EXECUTE_TOOL = "execute_tool"
OP_INVOKE_WORKFLOW = "invoke_workflow"

# metrics (v1.41.0)
METRIC_TOKEN_USAGE = "gen_ai.client.token.usage"
METRIC_DURATION = "gen_ai.client.operation.duration"
METRIC_COST = "newsroom.cost"

# OpenInference, read by Arize Phoenix
OI_KIND = "openinference.span.kind"
OI_MODEL = "llm.model_name"
OI_PROVIDER = "llm.provider"
OI_PROMPT_TOKENS = "llm.token_count.prompt"
OI_COMPLETION_TOKENS = "llm.token_count.completion"
OI_TOTAL_TOKENS = "llm.token_count.total"
OI_COST_TOTAL = "llm.cost.total"
OI_TOOL_NAME = "tool.name"
OI_AGENT_NAME = "agent.name"
OI_PROJECT = "openinference.project.name"

# MCP
MCP_SERVER = "mcp.server.name"
MCP_METHOD = "mcp.method.name"

# newsroom
WEEK = "newsroom.week"
EDITION = "newsroom.edition"
RUN_ID = "newsroom.run_id"
ENGINE = "newsroom.engine"
STATUS = "newsroom.status"
STOP_REASON = "newsroom.stop_reason"
RESUMED = "newsroom.resumed"
BASE_RUN = "newsroom.update.base_run"  # an update: the run whose edition it started from
UPDATE_MODE = "newsroom.update.mode"  # incremental | full
THEMES_REWRITTEN = "newsroom.update.themes_rewritten"
THEMES_KEPT = "newsroom.update.themes_kept"
COST_USD = "newsroom.cost_usd"
GUARD = "newsroom.guard"
GUARD_MESSAGE = "newsroom.guard.message"
BUDGET_USED_USD = "newsroom.budget.used_usd"
BUDGET_LIMIT_USD = "newsroom.budget.limit_usd"
BUDGET_LLM_CALLS = "newsroom.budget.llm_calls"
BUDGET_TOKENS = "newsroom.budget.tokens"
VERDICTS = "newsroom.verdicts"
ATTEMPT = "newsroom.llm.attempt"  # 1 for the first attempt of a call, 2 for its first retry
ATTEMPT_OUTCOME = "newsroom.llm.outcome"  # ok | HTTP 429 | no reply in time | no connection

EVENT_GUARD_TRIPPED = "guard.tripped"
EVENT_BUDGET_DENIED = "budget.denied"
EVENT_LOOP_DETECTED = "loop.detected"
EVENT_VERDICTS = "fact_check.verdicts"
