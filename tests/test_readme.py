"""The README's quick start runs as written, offline, on the bundled data."""

import re
from pathlib import Path

import pytest

README = Path(__file__).parents[1] / "README.md"


@pytest.mark.slow
def test_quick_start_runs():
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    assert blocks, "the README has no Python quick start"
    namespace = {}
    exec(compile(blocks[0], str(README), "exec"), namespace)  # noqa: S102 - our own README
    assert namespace["m_171_L15"].data.shape == (4096, 4096)
    assert namespace["m_171_L15"].meta["lvl_num"] == 1.5
    assert namespace["m_171_respiked"].meta["lvl_num"] == 0.5
    assert namespace["d_335"].shape == namespace["times"].shape
    assert namespace["k_171"].response.max().value == pytest.approx(1.25e-24, rel=2e-3)
