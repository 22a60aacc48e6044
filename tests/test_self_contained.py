"""The repository alone runs the suite: the test data it reads lives inside it, and no file points outside it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.policy.conformance import data as authzen_data
from tests.tokens import test_jose_vectors as jose_vectors

REPO = Path(__file__).resolve().parents[1]

#: a path that climbs out of the repository to a sibling folder, as ``../shared/...`` did
OUTSIDE = re.compile(r"(?:\.\./)+shared/|/work/shared")


def tracked(*patterns: str) -> list[Path]:
    out = subprocess.run(["git", "ls-files", *patterns], cwd=REPO, capture_output=True, text=True, check=True)
    return [REPO / line for line in out.stdout.splitlines()]


def test_conformance_data_is_inside_the_repository() -> None:
    for root in (authzen_data.ROOT, jose_vectors.ROOT):
        assert root.is_dir(), root
        assert root.resolve().is_relative_to(REPO), f"{root} is outside {REPO}"
        assert (root / "README.md").is_file(), f"{root} has no README with its provenance"


def test_every_upstream_folder_names_its_commit_and_licence() -> None:
    readme = (REPO / "tests" / "conformance" / "data" / "README.md").read_text(encoding="utf-8")
    for upstream in ("openid/authzen", "ietf-jose/cookbook", "C2SP/wycheproof"):
        row = next(line for line in readme.splitlines() if upstream in line)
        assert re.search(r"`[0-9a-f]{40}`", row), f"no commit for {upstream}"
    assert (jose_vectors.ROOT / "upstream" / "C2SP-wycheproof" / "LICENSE").is_file()
    assert (jose_vectors.ROOT / "upstream" / "ietf-jose-cookbook" / "LICENSE").is_file()
    assert list((authzen_data.ROOT / "upstream" / "interop").glob("*-LICENSE"))


def test_no_code_or_document_reads_or_links_outside_the_repository() -> None:
    files = tracked("*.py", "*.md", "*.toml", "Makefile", "scripts/*", ".ci/*")
    offenders = [
        f"{path.relative_to(REPO)}:{number}"
        for path in files
        if path.is_file() and path != Path(__file__).resolve()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert not offenders, offenders
