"""README.md opens with the two fresh-machine commands, and CI runs exactly the second one."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _blocks():
    return re.findall(r"```bash\n(.*?)\n```", (ROOT / "README.md").read_text(), flags=re.S)


def test_readme_starts_with_the_two_commands():
    blocks = _blocks()
    assert "bench run --model deiii --folds 5" in blocks[0]
    assert "pytest" in blocks[1]
    head = (ROOT / "README.md").read_text().split("```bash")[0]
    assert head.count("\n") < 6, "the commands must open the README"


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert _blocks()[1].strip() in ci
