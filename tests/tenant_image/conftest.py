from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.tenant_image.supervising import Run


@pytest.fixture
def running() -> Iterator[list[Run]]:
    """Supervisors started by a test; each is stopped (and its children with it) afterwards."""
    runs: list[Run] = []
    yield runs
    for run in runs:
        run.close()
