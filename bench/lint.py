"""How `credo lint` grows with the rulebook: times for generated rulebooks of 1, 2 and 4 MB.

    python bench/lint.py            # prints one JSON object
    python bench/lint.py 1 2 4 8    # other sizes, in MB (the loader refuses more than 5 MiB)

Each rulebook is valid and lints clean of errors: N behaviours, each scored by one program, and
for every tenth a list, an action and a deny measure whose condition names both (so lint's
cross-context check reads every program and list). "ratio" is the CPU time per MB of the
largest rulebook over that of the smallest (CPU time: wall time on a shared machine measures its
load): about 1 when lint is linear (it was 3.4 from 5 to 10 MB when a step was quadratic).
Target (issue 16): a ratio under 1.5.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from credo.rules import lint_file


def generate(target_bytes: int) -> str:
    """A valid rulebook of about target_bytes."""
    head = 'rulebook: big\nversion: "1"\nsources:\n  court: {description: "courts"}\n'
    behaviours, points, lists, actions, measures = [], [], [], [], []
    size, index = len(head) + 200, 0
    while size < target_bytes:
        name = f"behaviour_{index:07d}"
        parts = [
            f'  {name}: {{category: traffic, sources: [court], description: "behaviour {index}"}}\n',
            f'      {name}: {{points: -{index % 50 + 1}, expires_after: P2Y, reference: "table {index}"}}\n',
        ]
        behaviours.append(parts[0])
        points.append(parts[1])
        if index % 10 == 0:
            parts += [
                f"  list_{index}:\n    kind: black\n    enter_on: [{name}]\n    lasts: P1Y\n",
                f"  action_{index}: {{context: traffic}}\n",
                f"  measure_{index}:\n    action: action_{index}\n    effect: deny\n    basis: law {index}\n"
                f"    when: {{any: [{{list: list_{index}}}, {{program: p, score_below: {index % 100}}}]}}\n",
            ]
            lists.append(parts[2])
            actions.append(parts[3])
            measures.append(parts[4])
        size += sum(len(part) for part in parts)
        index += 1
    program = "programs:\n  p:\n    start: 100\n    floor: 0\n    tiers: {low: 0, high: 50}\n    points:\n"
    return "".join(
        [head, "behaviours:\n", *behaviours, program, *points, "lists:\n", *lists, "actions:\n", *actions,
         "measures:\n", *measures]
    )  # fmt: skip


def main(sizes: list[float]) -> None:
    figures: dict[str, object] = {"benchmark": "lint", "sizes_mb": {}}
    per_mb = []
    with tempfile.TemporaryDirectory() as folder:
        for megabytes in sizes:
            path = Path(folder) / f"rulebook-{megabytes}.yaml"
            path.write_text(generate(int(megabytes * 1_000_000)), encoding="utf-8")
            actual = path.stat().st_size / 1_000_000
            started, cpu = time.perf_counter(), time.process_time()
            _, report = lint_file(path)
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
            assert report.ok, report.errors[:3]
            per_mb.append(cpu / actual)
            figures["sizes_mb"][str(megabytes)] = {  # type: ignore[index]
                "bytes": path.stat().st_size,
                "seconds": round(elapsed, 3),
                "cpu_seconds": round(cpu, 3),
                "cpu_seconds_per_mb": round(cpu / actual, 3),
                "findings": len(report.findings),
            }
    figures["ratio"] = round(per_mb[-1] / per_mb[0], 2)
    figures["linear"] = figures["ratio"] < 1.5  # type: ignore[operator]
    sys.stdout.write(json.dumps(figures) + "\n")


if __name__ == "__main__":
    main([float(argument) for argument in sys.argv[1:]] or [1.0, 2.0, 4.0])
