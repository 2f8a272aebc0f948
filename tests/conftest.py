import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def assistant(tmp_path_factory):
    """The whole assistant, started once for every end-to-end test (tests/servers.py)."""
    from tests.servers import running_assistant

    with running_assistant(tmp_path_factory.mktemp("assistant")) as running:
        yield running
