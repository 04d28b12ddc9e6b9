"""A real browser for the walkthrough tests: Debian's Chromium and chromedriver.

Nothing is downloaded at run time: the driver is given by path, so Selenium
Manager never runs. Without Chromium the tests are skipped with one reason.
"""

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from django.conf import settings

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
MISSING = "Chromium not installed: apt-get install chromium chromium-driver"
SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
WAIT_SECONDS = 15
# Belt and braces: even if Selenium Manager were reached, it stays offline.
os.environ.setdefault("SE_OFFLINE", "true")

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1440,900",
]


def browser_installed():
    """Return True when Debian's Chromium and its driver are both present."""
    return os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(reason=MISSING)
    for item in items:
        if "browser" in item.keywords and not browser_installed():
            item.add_marker(skip)


def left_page(element):
    """Return True once element's page has been replaced by the next one."""
    from selenium.common.exceptions import (
        StaleElementReferenceException,
        WebDriverException,
    )

    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as error:
        # Chromium may answer for a node of a page just unloaded with an
        # inspector error instead of a stale reference.
        if "does not belong to the document" in str(error):
            return True
        raise
    return False


class Browser:
    """A signed-in-or-not Chromium pointed at the live server.

    Every page opened through `open` or `submit` is checked for Content
    Security Policy violations: the console serves a strict policy, and a
    violation means something on the page silently does not work.
    """

    def __init__(self, driver, base_url, downloads):
        self.driver = driver
        self.base_url = base_url
        self.downloads = downloads

    def open(self, path):
        """Load a path of the live server and check the console is clean."""
        self.driver.get(self.base_url + path)
        self.assert_no_csp_violation()

    def click(self, element):
        """Click a link or button and wait for the next page to load."""
        from selenium.webdriver.support.ui import WebDriverWait

        element.click()
        WebDriverWait(self.driver, WAIT_SECONDS).until(lambda _: left_page(element))
        self.assert_no_csp_violation()

    def find(self, css):
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css):
        from selenium.webdriver.common.by import By

        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def link(self, text):
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.LINK_TEXT, text)

    @property
    def text(self):
        """Return the visible text of the page."""
        return self.find("body").text

    @property
    def path(self):
        return self.driver.current_url.removeprefix(self.base_url)

    def sign_in(self, username, password):
        """Sign in through the admin's login form, as a person would."""
        self.open("/admin/login/?next=/admin/")
        self.find("#id_username").send_keys(username)
        self.find("#id_password").send_keys(password)
        self.click(self.find("input[type=submit]"))
        assert "/admin/login/" not in self.path, self.text

    def wait_for_text(self, text, reload=False, timeout=WAIT_SECONDS):
        """Wait until the page shows text; with reload, reload while waiting."""
        deadline = time.monotonic() + timeout
        while text not in self.text:
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never appeared:\n{self.text}")
            time.sleep(0.5)
            if reload:
                self.driver.refresh()
        self.assert_no_csp_violation()

    def wait_for_download(self, suffix, timeout=WAIT_SECONDS):
        """Return the path of the first finished download ending in suffix."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = [p for p in self.downloads.iterdir() if p.name.endswith(suffix)]
            if done:
                return done[0]
            time.sleep(0.2)
        raise AssertionError(f"no {suffix} download in {WAIT_SECONDS} s")

    def screenshot(self, name):
        """Save the whole page under var/screenshots/ for people to look at."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        height = self.driver.execute_script(
            "return document.documentElement.scrollHeight"
        )
        self.driver.set_window_size(1440, max(900, min(height, 4000)))
        self.driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))
        self.driver.set_window_size(1440, 900)

    def assert_no_csp_violation(self):
        """Fail when the browser logged a Content Security Policy violation."""
        logged = self.driver.get_log("browser")
        violations = [
            entry["message"]
            for entry in logged
            if "Content Security Policy" in entry["message"]
        ]
        assert not violations, violations


def serve_plain_http(live_server):
    """Have the live server answer plain HTTP, as tests/conftest.py sets.

    The live server is started once per session and its middleware read
    SECURE_SSL_REDIRECT then, before the per-test settings turned it off.
    """
    handler = live_server.thread.httpd.get_app()
    getattr(handler, "application", handler).load_middleware()


@pytest.fixture
def browser(live_server, tmp_path):
    """Yield a Browser on a fresh headless Chromium; quit it afterwards."""
    if not browser_installed():
        pytest.skip(MISSING)
    serve_plain_http(live_server)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="perfconsole-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options.add_experimental_option(
        "prefs",
        {
            "download.default_directory": str(downloads),
            "download.prompt_for_download": False,
        },
    )
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.implicitly_wait(2)
    try:
        yield Browser(driver, live_server.url, downloads)
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
