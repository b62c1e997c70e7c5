"""The built documentation site in a real browser: headless Chromium opens the results reference and a
tutorial, served over HTTP from ``site/``, and checks that they render with their content and figures.

Needs the site (``make docs``; built here if ``site/`` is missing), Chromium and ChromeDriver
(``apt-get install chromium chromium-driver``) and selenium (the ``docs`` extra).
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "site"


def _chromium() -> tuple[str, str]:
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    if not (browser and driver):
        pytest.fail("headless Chromium and chromedriver are needed: apt-get install chromium chromium-driver")
    return browser, driver


@pytest.fixture(scope="module")
def site_url():
    if not (SITE / "index.html").exists():
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        mkdocs = Path(sys.executable).with_name("mkdocs")
        subprocess.run([str(mkdocs), "build", "--strict", "--site-dir", str(SITE)], cwd=ROOT, env=env,
                       check=True, timeout=900)
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # noqa: D102 - keep the test output clean
            pass

    handler = functools.partial(Quiet, directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is in the docs extra")
    binary, driver = _chromium()
    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1280,1600",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        opts.add_argument(flag)
    service = webdriver.ChromeService(executable_path=driver)
    drv = webdriver.Chrome(options=opts, service=service)
    drv.set_page_load_timeout(60)
    try:
        yield drv
    finally:
        drv.quit()


def _open(browser, url: str) -> None:
    browser.get(url)
    browser.execute_script("return document.readyState")


def test_results_reference_renders_every_column(site_url, browser):
    from selenium.webdriver.common.by import By

    _open(browser, f"{site_url}/reference/results/")
    assert "Result columns" in browser.title
    rows = browser.find_elements(By.XPATH, "//span[@id='gap_l1']/ancestor::table//tbody/tr")
    assert rows, "no table of columns on the results reference page"
    names = {r.find_element(By.CSS_SELECTOR, "td:first-child code").text for r in rows}
    # the same registry the page was generated from
    sys.path.insert(0, str(ROOT / "docs" / "hooks"))
    try:
        import biasflow_docs
    finally:
        sys.path.pop(0)
    assert names == set(biasflow_docs.metrics_registry())
    for col in ("gap_l1", "rho_nsv", "log10_mu"):
        assert browser.find_elements(By.ID, col), f"no anchor #{col}"
        row = next(r for r in rows if r.find_element(By.CSS_SELECTOR, "td:first-child code").text == col)
        assert row.is_displayed() and len(row.text) > len(col) + 10


def test_tutorial_renders_with_its_figures(site_url, browser):
    from selenium.webdriver.common.by import By

    _open(browser, f"{site_url}/tutorials/phase_diagram/")
    body = browser.find_element(By.TAG_NAME, "article").text
    assert "Moroshko phase diagram" in body
    assert "gap_l1 at 1e-100:" in body and "at 1e-1000:" in body, "the executed cell's output is missing"
    images = browser.find_elements(By.CSS_SELECTOR, "article img")
    assert images, "the tutorial has no figure"
    for img in images:
        browser.execute_script("arguments[0].scrollIntoView();", img)
        ok = browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", img)
        assert ok, "a figure did not decode"
        assert img.size["width"] > 100 and img.size["height"] > 100, img.size
    out = Path(os.environ.get("BIASFLOW_SCREENSHOT_DIR", SITE.parent / "out"))
    out.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(out / "docs_tutorial.png"))
