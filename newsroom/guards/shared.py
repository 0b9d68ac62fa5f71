"""A budget shared by processes on any machine, kept in Redis (or Valkey).

Reserve and settle are each one Lua script, so they are atomic however many workers share the
scope. A reservation is a lease: if its process dies before settling, the lease expires and the
amount returns to the budget. When Redis cannot be reached the guard fails closed: no call.
"""

from __future__ import annotations

import secrets
from typing import Any

from newsroom.errors import GuardUnavailable
from newsroom.guards.budget import COUNTERS, Amounts, refusal

# Shared by both scripts: return a reservation's amounts to the budget and forget it.
_RELEASE = """
local used, reserved, open, leases = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local function release(rid, counters)
  local held = redis.call('HGET', open, rid)
  if held then
    local i = 1
    for amount in string.gmatch(held, '[^,]+') do
      if tonumber(amount) ~= 0 then
        redis.call('HINCRBY', reserved, counters[i], 0 - tonumber(amount))
      end
      i = i + 1
    end
    redis.call('HDEL', open, rid)
  end
  redis.call('ZREM', leases, rid)
  return held
end
"""

# ARGV: reservation id, lease seconds, 0, 4 counter names, 4 amounts, 4 caps (-1: none)
_RESERVE = (
    _RELEASE
    + """
local counters = {ARGV[4], ARGV[5], ARGV[6], ARGV[7]}
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
for _, rid in ipairs(redis.call('ZRANGEBYSCORE', leases, '-inf', now)) do
  release(rid, counters)
end
local amounts = {}
for i = 1, 4 do
  local want = tonumber(ARGV[7 + i])
  local cap = tonumber(ARGV[11 + i])
  local committed = tonumber(redis.call('HGET', used, counters[i]) or '0')
    + tonumber(redis.call('HGET', reserved, counters[i]) or '0')
  if cap >= 0 and want > 0 and committed + want > cap then
    return {0, counters[i], committed, want}
  end
  amounts[i] = want
end
for i = 1, 4 do
  if amounts[i] ~= 0 then
    redis.call('HINCRBY', reserved, counters[i], amounts[i])
  end
end
redis.call('HSET', open, ARGV[1], table.concat(amounts, ','))
redis.call('ZADD', leases, now + tonumber(ARGV[2]), ARGV[1])
return {1}
"""
)

# ARGV: reservation id, 4 counter names, 4 actual amounts
_SETTLE = (
    _RELEASE
    + """
local counters = {ARGV[2], ARGV[3], ARGV[4], ARGV[5]}
local held = release(ARGV[1], counters)
for i = 1, 4 do
  if tonumber(ARGV[5 + i]) ~= 0 then
    redis.call('HINCRBY', used, counters[i], tonumber(ARGV[5 + i]))
  end
end
return held and 1 or 0
"""
)


class RedisLedger:
    """The same interface as MemoryLedger, over one Redis scope (say `week:2026-W06`)."""

    def __init__(self, client: Any, scope: str, caps: dict[str, int | None]) -> None:
        self.client = client
        self.scope = scope
        self.caps = caps
        self.keys = [
            f"newsroom:budget:{scope}:{part}" for part in ("used", "reserved", "open", "leases")
        ]
        self._reserve = client.register_script(_RESERVE)
        self._settle = client.register_script(_SETTLE)

    @classmethod
    def from_url(cls, url: str, scope: str, caps: dict[str, int | None]) -> RedisLedger:
        import redis

        return cls(redis.Redis.from_url(url, socket_timeout=5), scope, caps)

    def _run(self, script: Any, args: list[Any]) -> Any:
        import redis

        try:
            return script(keys=self.keys, args=args)
        except redis.RedisError as exc:
            raise GuardUnavailable(
                "shared budget",
                f"the shared budget store for {self.scope} cannot be reached ({exc}); no call "
                "is made without it",
            ) from exc

    def reserve(self, amounts: Amounts, lease_seconds: float = 600.0) -> str:
        reservation = secrets.token_hex(8)
        caps = [-1 if self.caps.get(c) is None else self.caps[c] for c in COUNTERS]
        answer = self._run(
            self._reserve,
            [reservation, lease_seconds, 0, *COUNTERS, *amounts.as_dict().values(), *caps],
        )
        if int(answer[0]) == 1:
            return reservation
        counter = answer[1].decode() if isinstance(answer[1], bytes) else str(answer[1])
        cap = self.caps[counter]
        assert cap is not None
        raise refusal(counter, cap, int(answer[2]), int(answer[3]))

    def settle(self, reservation: str, actual: Amounts) -> None:
        self._run(self._settle, [reservation, *COUNTERS, *actual.as_dict().values()])

    def used(self) -> Amounts:
        import redis

        try:
            raw = self.client.hgetall(self.keys[0])
        except redis.RedisError as exc:
            raise GuardUnavailable("shared budget", f"cannot read {self.scope}: {exc}") from exc
        values = {(k.decode() if isinstance(k, bytes) else k): int(v) for k, v in raw.items()}
        return Amounts(**{c: values.get(c, 0) for c in COUNTERS})

    def reserved(self) -> Amounts:
        raw = self.client.hgetall(self.keys[1])
        values = {(k.decode() if isinstance(k, bytes) else k): int(v) for k, v in raw.items()}
        return Amounts(**{c: values.get(c, 0) for c in COUNTERS})

    def reset(self) -> None:
        self.client.delete(*self.keys)
