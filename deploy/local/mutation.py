"""``make mutation``: mutation testing (mutmut) of every service's ``domain/`` with that service's unit tests.

Why: the unit tests must prove the rules, not only run them. Each service is copied to
``.local/mutation/<service>/`` (mutmut works on a copy of the sources it mutates), its ``domain/`` is
mutated and its ``tests/unit`` run against each mutant. Prints, per service, the mutants killed out of those
generated and the survivors, and writes them to ``.local/mutation/<service>/survivors.txt``. Exit status 1
when a service's score is below the target (90 %), so it can gate a pipeline; it is not part of ``make test``
(it takes minutes per service).

    uv run python deploy/local/mutation.py [--service rights-ledger] [--children 2]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORK = ROOT / ".local" / "mutation"
TARGET = 0.90
PYTEST_ARGS = (
    "-p no:cacheprovider -q -o asyncio_mode=auto --import-mode=importlib -p servicekit.testing.plugin"
)


@dataclass(frozen=True)
class Score:
    service: str
    killed: int
    total: int
    survivors: list[str]
    seconds: float

    @property
    def ratio(self) -> float:
        return self.killed / self.total if self.total else 1.0


def domains() -> list[tuple[str, Path]]:
    """(service, package folder) of every service with a domain and unit tests."""
    found = []
    for service in sorted((ROOT / "services").iterdir()):
        for package in sorted((service / "src").glob("*/domain")):
            if (service / "tests" / "unit").is_dir():
                found.append((service.name, package.parent))
    return found


def prepare(service: str, package: Path) -> Path:
    """A fresh copy of the service's sources and tests, with mutmut's configuration."""
    workdir = WORK / service
    shutil.rmtree(workdir, ignore_errors=True)
    (workdir / "src").mkdir(parents=True)
    shutil.copytree(package, workdir / "src" / package.name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(
        ROOT / "services" / service / "tests", workdir / "tests", ignore=shutil.ignore_patterns("__pycache__")
    )
    (workdir / "setup.cfg").write_text(
        "[mutmut]\n"
        f"source_paths=src/{package.name}/domain/\n"
        "also_copy=src/\n"
        "pytest_add_cli_args_test_selection=tests/unit/\n"
        f"pytest_add_cli_args={PYTEST_ARGS}\n"
    )
    return workdir


def run(service: str, package: Path, children: int) -> Score:
    workdir = prepare(service, package)
    started = time.monotonic()
    with (workdir / "mutmut.log").open("w") as log:
        subprocess.run(
            [sys.executable, "-m", "mutmut", "run", "--max-children", str(children)],
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
        )
    listed = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    outcomes = dict(line.strip().rsplit(": ", 1) for line in listed.splitlines() if ": " in line)
    survivors = sorted(name for name, outcome in outcomes.items() if outcome != "killed")
    (workdir / "survivors.txt").write_text("".join(f"{name}\n" for name in survivors))
    killed = sum(outcome == "killed" for outcome in outcomes.values())
    return Score(service, killed, len(outcomes), survivors, time.monotonic() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--service", action="append", help="only these services (repeatable)")
    parser.add_argument("--children", type=int, default=2, help="mutants tested in parallel")
    args = parser.parse_args(argv)
    chosen = [(s, p) for s, p in domains() if not args.service or s in args.service]
    scores = []
    for service, package in chosen:
        print(f"[mutation] {service}: mutating {package.name}/domain …", flush=True)
        score = run(service, package, args.children)
        scores.append(score)
        print(
            f"[mutation] {service}: {score.killed}/{score.total} mutants killed ({score.ratio:.1%}) "
            f"in {score.seconds:.0f} s; survivors in {WORK / service / 'survivors.txt'}",
            flush=True,
        )
        for name in score.survivors:
            print(f"    survived: {name}")
    below = [s.service for s in scores if s.ratio < TARGET]
    print(
        f"[mutation] target {TARGET:.0%}: "
        + ("met by every service" if not below else f"missed by {', '.join(below)}")
    )
    return 1 if below else 0


if __name__ == "__main__":
    sys.exit(main())
