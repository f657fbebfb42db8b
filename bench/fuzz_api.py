"""The long Schemathesis run of the API: the test suite's run
(tests/integration/test_api_schemathesis.py) with many more examples.

A real node (`camkeep run` on loopback) with a system, a viewer and three emulated
cameras (`camkeep emulate`) that record; Schemathesis runs every phase (examples,
coverage, fuzzing, stateful) with the checks not_a_server_error,
response_schema_conformance, status_code_conformance, negative_data_rejection,
ignored_auth and use_after_free, first with the viewer's token, then with the
owner's. Afterwards the viewer must have changed no record, and the node must be
alive, a member, answer health and login, and keep its system, owner and own server
record. The only request never made for real is detaching the node under test (sent
as a dry run: tests/integration/schemathesis_hooks.py).

    python bench/fuzz_api.py                       # 100 examples per operation and phase
    python bench/fuzz_api.py --max-examples 1000   # longer

Writes the section `## API fuzzing (bench/fuzz_api.py)` of bench/RESULTS.md: per
role, operations, test cases per phase, failures, duration.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from api_schemathesis import (  # noqa: E402
    CAMERAS,
    CHECKS,
    PHASES,
    RunResult,
    prepare_system,
    run_schemathesis,
    still_intact,
    system_records,
)
from conftest import start_emulator_process  # noqa: E402
from node_harness import make_node  # noqa: E402

from bench._common import replace_section  # noqa: E402

SECTION = "## API fuzzing (bench/fuzz_api.py)"


def table(runs: list[tuple[RunResult, float]]) -> str:
    header = "| role | operations | " + " | ".join(PHASES) + " | failures | duration |"
    lines = [header, "|" + "---|" * (len(PHASES) + 4)]
    for run, seconds in runs:
        cases = " | ".join(str(run.cases_per_phase.get(p, 0)) for p in PHASES)
        lines.append(
            f"| {run.role} | {run.operations} | {cases} | {run.failures} | {seconds:.0f} s |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-examples", type=int, default=100)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--no-write", action="store_true", help="do not write RESULTS.md")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="camkeep-fuzz-api-") as folder:
        work = Path(folder)
        emulator = start_emulator_process(work / "emulator-cache", cameras=CAMERAS)
        node = make_node(work / "nodes")
        try:
            node.start()
            system = prepare_system(node, emulator)
            before = system_records(node.data_dir)
            runs: list[tuple[RunResult, float]] = []
            problems: list[str] = []
            for role, token in (("viewer", system.viewer_token), ("owner", system.owner_token)):
                started = time.monotonic()
                run = run_schemathesis(
                    system.target, token, role, work / "reports",
                    max_examples=args.max_examples, seed=args.seed, timeout_s=6 * 3600,
                )  # fmt: skip
                runs.append((run, time.monotonic() - started))
                print(run.summary(), flush=True)
                if run.problems():
                    print(run.output[-30_000:])
                    problems += [f"{role}: {p}" for p in run.problems()]
                if role == "viewer" and system_records(node.data_dir) != before:
                    problems.append("viewer: records changed")
            problems += [f"owner: {p}" for p in still_intact(node, system.target.server_id, before)]
        finally:
            node.stop()
            emulator.stop()
            print(f"----- node log (last lines):\n{node.logs(40)}")

    verdict = "none" if not problems else "; ".join(problems)
    load_15min = os.getloadavg()[2]
    text = (
        f"{SECTION}\n\n"
        f"Schemathesis {_version()} against one node with {CAMERAS} emulated cameras recording,"
        f" every phase, checks {', '.join(CHECKS)}; `--max-examples {args.max_examples}`"
        " (per operation and phase). Test cases sent:\n\n"
        f"{table(runs)}\n\n"
        f"Durations are wall time on a shared {os.cpu_count()}-core machine (15-minute load"
        f" average {load_15min:.1f} at the end).\n\n"
        f"Problems after the runs (records a viewer changed, node not a member, health or"
        f" login failing): {verdict}.\n"
    )
    print(text)
    if not args.no_write:
        replace_section(ROOT / "bench" / "RESULTS.md", SECTION, text)
    return 0 if not problems else 1


def _version() -> str:
    import schemathesis

    return schemathesis.__version__


if __name__ == "__main__":
    sys.exit(main())
