"""compile_report from where users call it: standard input (``python - <<EOF``) and a script
without an ``if __name__ == "__main__":`` guard. Its parallel workers start by re-running the
caller's ``__main__``; from these callers that broke the pool (BrokenProcessPool)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from synnet_triton.compiled.compile_report import all_builds

CALL = (
    "import json\n"
    "from synnet_triton.compiled import compile_report\n"
    "rows = compile_report(80)\n"
    "print(json.dumps([row['name'] for row in rows]))\n"
)


def _names(run: subprocess.CompletedProcess) -> list[str]:
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.splitlines()[-1])


def test_from_standard_input_and_from_a_script_without_a_main_guard(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    expected = [name for name, *_ in all_builds()]
    from_stdin = subprocess.run([sys.executable, "-"], input=CALL, capture_output=True,
                                text=True, env=env, cwd=tmp_path)
    assert _names(from_stdin) == expected
    script = tmp_path / "report.py"
    script.write_text(CALL)
    from_script = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                                 env=env, cwd=tmp_path)
    assert _names(from_script) == expected
