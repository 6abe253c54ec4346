"""The README's Python examples run, and say what they claim."""

import re
from pathlib import Path

README = Path(__file__).parents[1] / "README.md"


def test_python_examples_run_and_match_their_comments():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    assert blocks
    for block in blocks:
        scope: dict = {}
        for line in block.splitlines():
            code, _, comment = line.partition("  # ")
            if not code.strip():
                continue
            exec(code, scope)
            claim = comment.split(":")[0].strip()
            if re.fullmatch(r"-?\d+|None|'[a-z_]+'", claim) and not code.lstrip().startswith(("import", "a =")):
                assert repr(eval(code.strip(), scope)) == claim, line
