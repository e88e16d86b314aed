"""The README's "From Python" example runs and prints a certificate."""

import contextlib
import io
import re


def test_readme_example(repo):
    text = (repo / "README.md").read_text()
    section = text.split("## From Python", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len(code.strip().splitlines()) <= 10
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    printed = out.getvalue()
    assert re.search(r"Certificate\(request=1, indices=\[10, 42\], certified=True", printed)
    assert re.search(r"accuracy 0\.9\d\d, epsilon spent 0\.\d+", printed), printed
