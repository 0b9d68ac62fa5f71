"""Tracing overhead of an offline run: the same run with tracing on and with the OpenTelemetry
SDK disabled (OTEL_SDK_DISABLED=true), in fresh processes, alternating; the graph's own time
from run.json (timings.total), best and median of N each.

    python benchmarks/tracing.py [N]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path


def one(traced: bool, out: Path) -> tuple[float, int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "NEWSROOM_"))}
    if not traced:
        env["OTEL_SDK_DISABLED"] = "true"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "newsroom",
            "run",
            "--week",
            "2026-W06",
            "--out",
            str(out),
            "--force",
            "--engine",
            "offline",
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    run = json.loads((out / "2026-W06" / "run.json").read_text())
    trace = Path(run["outputs"]["trace"])
    spans = len(trace.read_text().splitlines()) if trace.exists() else 0
    return float(run["timings"]["total"]), spans


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    times: dict[bool, list[float]] = {True: [], False: []}
    spans: dict[bool, int] = {}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(rounds):
            for traced in (True, False):
                seconds, count = one(traced, Path(folder) / ("on" if traced else "off"))
                times[traced].append(seconds)
                spans[traced] = count
    print(f"{'tracing':<10}{'spans':>7}{'best s':>9}{'median s':>10}")
    for traced in (True, False):
        print(
            f"{'on' if traced else 'off':<10}{spans[traced]:>7}{min(times[traced]):>9.3f}"
            f"{statistics.median(times[traced]):>10.3f}"
        )
    ratio = statistics.median(times[True]) / statistics.median(times[False])
    print(f"overhead ratio (median on / median off): {ratio:.3f}")


if __name__ == "__main__":
    main()
