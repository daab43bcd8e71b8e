"""The README's "Use it from Python" example, run the ways researchers run code (issue 17,
item 2): saved as a script with no ``__main__`` guard, fed on standard input, and
``exec``-ed like a notebook cell with no ``__file__``.

The sim's helper processes must start without re-importing the caller's main module:
with ``multiprocessing``'s spawn, the script ran again in every child and the sim failed
with "the sim physics process is gone during start".
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_sim_example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    sims = [b for b in blocks if "make_robot" in b and "ws://" not in b]
    assert sims, "the README has no sim example"
    return sims[0]


def _run(argv: list[str], cwd: Path, stdin: str | None = None) -> None:
    done = subprocess.run(argv, cwd=cwd, input=stdin, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr, done.stderr[-2000:]


@pytest.mark.parametrize("how", ["script", "stdin", "exec"])
def test_the_readme_example_runs_as_users_run_it(how: str, tmp_path: Path) -> None:
    source = _readme_sim_example()
    script = tmp_path / "try_sim.py"
    script.write_text(source)
    if how == "script":
        _run([sys.executable, str(script)], tmp_path)
    elif how == "stdin":
        _run([sys.executable, "-"], tmp_path, stdin=source)
    else:
        cell = f"exec(compile(open({str(script)!r}).read(), '<cell>', 'exec'))"
        _run([sys.executable, "-c", cell], tmp_path)
