"""Voting in a real browser: headless Chromium (Debian's chromium + chromium-driver) drives the
polls server command; a screenshot of the results page is saved under test-artifacts/."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import ROOT, polls_server, sqlite_config, write_config

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1024,768",
]


def _chromium() -> tuple[str, str] | None:
    driver = shutil.which("chromedriver")
    for candidate in ("/usr/lib/chromium/chromium", "chromium", "chromium-browser"):
        browser = shutil.which(candidate)
        if browser and driver:
            return browser, driver
    return None


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    found = _chromium()
    if found is None:
        pytest.skip(
            "chromium and chromedriver not found: install Debian's chromium and chromium-driver "
            "(`make pytest` does it via scripts/ensure-system-deps.sh when run as root)"
        )
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = found
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    profile = tempfile.mkdtemp(prefix="heron-chromium-", dir=tmp_path)
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    # An explicit driver path: Selenium Manager never tries to download one.
    service = Service(executable_path=driver_path)
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()  # stops chromium and chromedriver
        if service.process is not None and service.process.poll() is None:
            service.process.kill()
            service.process.wait(timeout=10)


def test_vote_in_a_browser(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.wait import WebDriverWait

    def wait_for_url(url: str) -> None:  # a navigation, bounded
        WebDriverWait(browser, 15).until(expected_conditions.url_to_be(url))

    config = write_config(tmp_path / "polls.yaml", sqlite_config(tmp_path / "polls.db"))
    with polls_server(config, cwd=tmp_path) as base:
        browser.get(f"{base}/")
        assert "Polls" in browser.title
        # the stylesheet was served and applied (header background from /static/style.css)
        header = browser.find_element(By.TAG_NAME, "header")
        assert header.value_of_css_property("background-color") == "rgba(35, 57, 91, 1)"

        browser.find_element(By.LINK_TEXT, "What's new?").click()
        wait_for_url(f"{base}/poll/1")
        assert browser.find_element(By.TAG_NAME, "h1").text == "What's new?"

        browser.find_element(By.ID, "choice2").click()  # "The sky"
        browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

        wait_for_url(f"{base}/poll/1/results")
        votes = {
            item.get_attribute("data-choice-id"): item.find_element(By.CLASS_NAME, "votes").text
            for item in browser.find_elements(By.CSS_SELECTOR, "ul.results li")
        }
        assert votes == {"1": "0", "2": "1", "3": "0"}

        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "polls-results.png"
        assert browser.save_screenshot(str(shot))
        assert shot.stat().st_size > 1000
