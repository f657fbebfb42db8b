"""Run one fuzz harness under atheris (libFuzzer), with camkeep's packages instrumented.

    python tests/fuzz/atheris_main.py NAME [CORPUS_DIR ...] [-runs=N] [-max_total_time=S] ...

Arguments after NAME go to libFuzzer as they are. Give a scratch folder first and the
seed folder (tests/fuzz/corpus/NAME) after it: libFuzzer adds the inputs it finds to
the first folder only. Without `-artifact_prefix=`, crash inputs go to a temporary
folder (printed by libFuzzer), never into the work tree.
"""

from __future__ import annotations

import sys
import tempfile

import atheris
import harnesses

INSTRUMENTED = ["emulator", "recorder", "discovery", "node"]


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        raise SystemExit(f"usage: {argv[0]} NAME [libFuzzer arguments...]")
    name, args = argv[1], argv[2:]
    if not any(arg.startswith("-artifact_prefix=") for arg in args):
        args.append(f"-artifact_prefix={tempfile.mkdtemp(prefix=f'fuzz-{name}-')}/")
    with atheris.instrument_imports(include=INSTRUMENTED):
        fuzz_one = harnesses.load(name)
    atheris.Setup([argv[0], *args], fuzz_one)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
