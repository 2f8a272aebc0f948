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


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright (no browser download)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        yield browser
        browser.close()


# Tests that need the whole assistant, the cluster, a browser or a trained model are the slow
# tier (`make test` only); the rest run in `make test-fast`.
SLOW_FIXTURES = {"assistant", "cluster", "browser", "page", "server"}
SLOW_MODULES = {"test_rasa_speedups", "test_nlu_quality"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1]
        if module in SLOW_MODULES or SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: needs the trained model, running servers or a browser (make test only)")
