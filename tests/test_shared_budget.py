"""A budget shared by processes through Redis: no overshoot, leases of dead processes expire."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time

import pytest

from newsroom.errors import BudgetExceeded, GuardUnavailable
from newsroom.guards import Amounts, Limits
from newsroom.guards.shared import RedisLedger

SPENDER = """
import random, sys, time
from newsroom.errors import BudgetExceeded
from newsroom.guards import Amounts, Limits
from newsroom.guards.shared import RedisLedger
url, scope, cap, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
ledger = RedisLedger.from_url(url, scope, Limits(max_usd=cap / 1e6).caps())
rng = random.Random(seed)
ledger.client.incr(f"{scope}:ready")
while not ledger.client.get(f"{scope}:go"):  # everyone starts together
    time.sleep(0.005)
spent = 0
while True:
    want = rng.randint(1, 400)
    try:
        reservation = ledger.reserve(Amounts(usd_micro=want, llm_calls=1), 30)
    except BudgetExceeded:
        break
    actual = rng.randint(0, want)
    ledger.settle(reservation, Amounts(usd_micro=actual, llm_calls=1))
    spent += actual
print(spent)
"""

HOLDER = """
import sys, time
from newsroom.guards import Amounts, Limits
from newsroom.guards.shared import RedisLedger
url, scope = sys.argv[1], sys.argv[2]
ledger = RedisLedger.from_url(url, scope, Limits(max_usd=0.001).caps())
ledger.reserve(Amounts(usd_micro=900), 1.5)
print("reserved", flush=True)
time.sleep(600)
"""


def test_twenty_processes_never_exceed_a_shared_budget(redis_url: str) -> None:
    scope = f"test-{secrets.token_hex(4)}"
    cap = 200_000
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    spenders = [
        subprocess.Popen(
            [sys.executable, "-c", SPENDER, redis_url, scope, str(cap), str(seed)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for seed in range(20)
    ]
    ledger = RedisLedger.from_url(redis_url, scope, Limits(max_usd=cap / 1e6).caps())
    deadline = time.monotonic() + 120
    while int(ledger.client.get(f"{scope}:ready") or 0) < len(spenders):
        assert time.monotonic() < deadline, "the spenders did not start"
        time.sleep(0.05)
    ledger.client.set(f"{scope}:go", 1)
    spent = [int(p.communicate(timeout=120)[0]) for p in spenders]
    assert all(p.returncode == 0 for p in spenders)
    try:
        assert ledger.used().usd_micro == sum(spent) <= cap
        assert ledger.reserved().usd_micro == 0
        assert sum(1 for s in spent if s) >= 15  # they really competed
    finally:
        ledger.reset()
        ledger.client.delete(f"{scope}:ready", f"{scope}:go")


def test_a_killed_process_reservation_expires(redis_url: str) -> None:
    scope = f"test-{secrets.token_hex(4)}"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, redis_url, scope],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "reserved"
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    holder.stdout.close()
    ledger = RedisLedger.from_url(redis_url, scope, Limits(max_usd=0.001).caps())
    try:
        with pytest.raises(BudgetExceeded):
            ledger.reserve(Amounts(usd_micro=500), 5)
        deadline = time.monotonic() + 10
        while True:
            try:
                ledger.reserve(Amounts(usd_micro=500), 5)
                break
            except BudgetExceeded:
                assert time.monotonic() < deadline, "the dead process's lease never expired"
                time.sleep(0.1)
        assert ledger.reserved().usd_micro == 500
    finally:
        ledger.reset()


def test_unreachable_store_fails_closed() -> None:
    ledger = RedisLedger.from_url("redis://127.0.0.1:9/0", "nowhere", Limits().caps())
    with pytest.raises(GuardUnavailable, match="no call is made"):
        ledger.reserve(Amounts(llm_calls=1))
