"""The property test's time limit (tests/integration/test_api_property.py): long enough for the
examples asked for, and when it is reached, reported as a timeout, never as a hypothesis example.

A 300-example exploration on PostgreSQL ran past the suite's 600 s; pytest-timeout's signal
raised ``Failed`` inside an example, which hypothesis took for that example failing, replayed
(it passed) and reported as a FlakyFailure naming an input that fails nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.integration import test_api_property as prop

#: Seconds per example the property test took on PostgreSQL on a loaded 2-core machine.
MEASURED_PER_EXAMPLE = 676 / 300


@pytest.mark.parametrize("examples", [60, 300, 600, 2000])
def test_the_limit_leaves_room_for_the_examples_asked_for(examples):
    assert prop.timeout_seconds(examples) >= 2 * MEASURED_PER_EXAMPLE * examples
    assert prop.timeout_seconds(examples) >= 600  # never shorter than the suite's own


def test_the_property_test_carries_that_limit():
    (mark,) = [m for m in prop.test_no_input_produces_a_500.pytestmark if m.name == "timeout"]
    assert mark.args == (prop.timeout_seconds(prop.EXAMPLES),)
    assert mark.kwargs == {"method": prop.TIMEOUT_METHOD}


def test_a_limit_reached_inside_an_example_reads_as_a_timeout(tmp_path: Path):
    """A hypothesis test stopped the property test's way while an example runs: pytest says
    Timeout; hypothesis never reports a flaky example for it."""
    (tmp_path / "test_slow_examples.py").write_text(textwrap.dedent(f"""
        import time
        import pytest
        from hypothesis import given, settings, strategies as st

        @pytest.mark.timeout(2, method={prop.TIMEOUT_METHOD!r})
        @settings(max_examples=100, deadline=None, database=None, derandomize=True)
        @given(st.integers())
        def test_slow(x):
            time.sleep(0.2)
    """))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_slow_examples.py"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    out = run.stdout + run.stderr
    assert run.returncode != 0, out
    assert "Timeout" in out, out[-3000:]
    assert "Flaky" not in out and "Falsif" not in out and "unreliable" not in out, out[-3000:]
