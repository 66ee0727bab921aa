# The browser tests' tab (a laptop-sized context per test) serves these tests too.
from tests.browser.conftest import page  # noqa: F401
