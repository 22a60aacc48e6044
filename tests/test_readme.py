"""The README's "What to try" walk, run as written against a demo server: every answer it prints is what a user gets.

The shell blocks of that section run in order with bash, in a fresh directory seeded by ``remit demo --no-serve``,
against a real server on that estate (the walk's ``127.0.0.1:8400`` is pointed at it). A comment that starts with
``# {`` or ``# ... "`` right after a command is the output the README promises for it (``...`` stands for anything;
a line ``#  more`` continues the one before). Every command must succeed, every promise must hold, and the walk must
leave no file outside ``.remit``.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from remit.api.app import create_app
from remit.container import Remit
from remit.settings import load_settings
from tests.servers import uvicorn_serving

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
SECTION = "### What to try"
DEMO_ADDRESS = "127.0.0.1:8400"
MARK = "@@remit-readme-step@@"


@dataclass
class Step:
    command: list[str]
    promise: list[str] = field(default_factory=list)

    def pattern(self) -> re.Pattern[str]:
        text = " ".join(self.promise)
        return re.compile(".*".join(re.escape(part.strip()) for part in text.split("...")), re.DOTALL)


def walk_blocks() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index(SECTION) :]
    section = section[: section.index("\n## ")]
    return re.findall(r"```sh\n(.*?)```", section, re.DOTALL)


def steps_of(block: str) -> list[Step]:
    """The block's commands, each with the output promised right after it (if any)."""
    steps: list[Step] = []
    open_command: list[str] = []
    for line in block.splitlines():
        if open_command:
            open_command.append(line)
        elif line.startswith("#  ") and steps and steps[-1].promise:
            steps[-1].promise.append(line[3:].strip())
            continue
        elif line.startswith(("# {", '# ... "')):
            assert steps, f"a promised output with no command before it: {line}"
            steps[-1].promise.append(line[2:].strip())
            continue
        elif not line.strip() or line.startswith("#"):
            continue
        else:
            open_command = [line]
        if complete(open_command):
            steps.append(Step(command=open_command))
            open_command = []
    assert not open_command, f"an unfinished command: {open_command}"
    return steps


def complete(lines: list[str]) -> bool:
    """Whether the lines make a whole shell command: no quote left open, no trailing backslash."""
    if lines[-1].rstrip().endswith("\\"):
        return False
    try:
        shlex.split("\n".join(lines))
    except ValueError:  # "No closing quotation"
        return False
    return True


def script(steps: list[Step], port: int) -> str:
    lines = ["set -euo pipefail"]
    for step in steps:
        if step.command[0].startswith("source .venv/bin/activate"):
            continue  # the test puts the venv's remit on PATH itself
        lines.append(f"echo '{MARK}'")
        lines.extend(line.replace(DEMO_ADDRESS, f"127.0.0.1:{port}") for line in step.command)
    return "\n".join(lines) + "\n"


@pytest.fixture
def demo_home(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """``remit demo --no-serve`` in an empty directory, then a server on that estate; yields (directory, port)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REMIT_")} | {"REMIT_AUDIT__WRITER": "inline"}
    remit_bin = Path(sys.executable).parent / "remit"
    seeded = subprocess.run(
        [str(remit_bin), "demo", "--no-serve"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert seeded.returncode == 0, seeded.stderr
    settings = load_settings(home=tmp_path / ".remit")
    remit = Remit.from_settings(settings)
    try:
        with uvicorn_serving(create_app(settings, remit=remit), lifespan="on") as port:
            yield tmp_path, port
    finally:
        remit.close()


def test_the_walk_parses_into_commands_and_promises() -> None:
    blocks = walk_blocks()
    assert len(blocks) >= 3
    steps = [step for block in blocks for step in steps_of(block)]
    promised = [step for step in steps if step.promise]
    assert len(promised) >= 8
    assert any("agent_inactive" in " ".join(step.promise) for step in promised)


def test_every_answer_the_walk_prints_is_what_a_user_gets(demo_home: tuple[Path, int]) -> None:
    directory, port = demo_home
    steps = [step for block in walk_blocks() for step in steps_of(block)]
    run_steps = [step for step in steps if not step.command[0].startswith("source .venv/bin/activate")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("REMIT_")} | {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "REMIT_AUDIT__WRITER": "inline",
        "COLUMNS": "200",
    }
    result = subprocess.run(
        ["bash", "-c", script(steps, port)], cwd=directory, env=env, capture_output=True, text=True, timeout=600
    )
    outputs = result.stdout.split(MARK + "\n")[1:]
    assert result.returncode == 0, f"step {len(outputs)} failed: {run_steps[len(outputs) - 1].command}\n{result.stderr}"
    assert len(outputs) == len(run_steps)
    for step, output in zip(run_steps, outputs, strict=True):
        if step.promise:
            assert step.pattern().search(output), f"{step.command[0]} ...\nprinted {output!r}\npromised {step.promise}"
    left = sorted(path.name for path in directory.iterdir() if path.name != ".remit")
    assert left == [], f"the walk left files outside .remit: {left}"
