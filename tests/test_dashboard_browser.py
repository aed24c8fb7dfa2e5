"""Issue 13, the dashboard in a real headless browser (Debian's chromium and chromedriver,
driven by Selenium): the real aiohttp app on a loopback port over a seeded database; the
school and group pages render, their links and filter form work when clicked, another
school's or group's page, an expired link and a revoked link are refused with a page that
says so, and axe-core finds no serious or critical accessibility violation on any page.

One browser for the module. Without chromium, chromedriver or axe-core the module skips
locally and FAILS under CI (`.ci/run` installs them), as the PostgreSQL tests do.
Set DASHBOARD_SCREENSHOTS=docs/images to write the screenshots the docs show.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import threading
import urllib.error
import urllib.request
from collections.abc import Coroutine, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp import web
from dashboard_seed import NOW, Seeded, seed
from pg import _running_in_ci as in_ci

from bot.app import init_app
from bot.config import Settings
from bot.dashboard import DashboardLinks
from storage import dashboards
from storage.db import Database

# One browser for the module: its tests run in one xdist worker.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
AXE = Path(
    os.environ.get("AXE_CORE_JS", ROOT / ".cache" / "axe" / "node_modules/axe-core/axe.min.js")
)
SECRET = "dashboard-browser-secret"
T = TypeVar("T")


def missing() -> str | None:
    for path, what in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromedriver")):
        if not (Path(path).exists() or shutil.which(path)):
            return f"{what} not found at {path} (apt-get install chromium chromium-driver)"
    if not AXE.exists():
        return f"axe-core not found at {AXE} (.ci/run installs it with npm)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    return None


class Server:
    """The real app on its own event loop in a thread, with a clock the tests can move."""

    def __init__(self, url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.now = [NOW]
        self.db = Database(url)
        self.links = DashboardLinks(SECRET, "http://public.example")
        self.seeded: Seeded = self.run(self._start(url))

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=120)

    async def _start(self, url: str) -> Seeded:
        await self.db.migrate()
        seeded = await seed(self.db)
        settings = Settings(
            database_url=url, plan_link_secret=SECRET, public_url="http://public.example",
            scheduler_enabled=False, _env_file=None,
        )  # type: ignore[call-arg]  # fmt: skip
        app = init_app(settings, database=self.db, clock=lambda: self.now[0])
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        host, port = self.runner.addresses[0][:2]
        self.base = f"http://{host}:{port}"
        return seeded

    def local(self, public: str) -> str:
        return public.replace("http://public.example", self.base)

    def school_link(self, organisation_id: int, person_id: int, at: Any = None) -> str:
        async def issue() -> str:
            async with self.db.transaction() as session:
                url, _ = await self.links.for_person(
                    session, organisation_id, person_id, "Sam Rivers", at or self.now[0]
                )
            return url

        return self.local(self.run(issue()))

    def lead_link(self, group_id: int, lead_id: int) -> str:
        async def issue() -> str:
            async with self.db.transaction() as session:
                url, _ = await self.links.for_lead(
                    session, group_id, lead_id, "Hana Lee", self.now[0]
                )
            return url

        return self.local(self.run(issue()))

    def revoke(self, organisation_id: int) -> int:
        async def revoke() -> int:
            async with self.db.transaction() as session:
                return await dashboards.revoke_dashboard_links(
                    session, self.now[0], organisation_id=organisation_id
                )

        return self.run(revoke())

    def close(self) -> None:
        self.run(self.runner.cleanup())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    reason = missing()
    if reason:
        if in_ci():
            pytest.fail(f"dashboard browser tests cannot run under CI: {reason}")
        pytest.skip(f"dashboard browser tests skipped: {reason}")
    path = tmp_path_factory.mktemp("dashboard") / "bot.sqlite3"
    running = Server(f"sqlite+aiosqlite:///{path}")
    yield running
    running.close()


@pytest.fixture(scope="module")
def browser(server: Server) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                 "--disable-gpu", "--window-size=1200,900", "--lang=en-GB"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def axe_violations(driver: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page shown."""
    driver.execute_script(AXE.read_text("utf-8"))
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations))"
        ".catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]));"
    )
    return [v for v in result if v.get("impact") in ("serious", "critical")]


def assert_accessible(driver: Any) -> None:
    bad = axe_violations(driver)
    assert not bad, [(v["id"], v["help"], [n.get("target") for n in v["nodes"][:3]]) for v in bad]


def screenshot(driver: Any, name: str) -> None:
    folder = os.environ.get("DASHBOARD_SCREENSHOTS")
    if not folder:
        return
    width = driver.execute_script("return document.documentElement.scrollWidth")
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(max(1200, width), min(height + 120, 4000))
    driver.save_screenshot(str(ROOT / folder / name))
    driver.set_window_size(1200, 900)


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url) as response:  # the loopback server only
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def click_and_wait(driver: Any, element: Any) -> None:
    """Click a link or button that loads a new page, and wait until the new page is there."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    old = driver.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(driver, 15).until(expected_conditions.staleness_of(old))
    WebDriverWait(driver, 15).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )


def text(driver: Any) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.TAG_NAME, "body").text)


def test_the_school_page_renders_and_its_links_and_filters_work(
    server: Server, browser: Any
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    seeded = server.seeded
    browser.get(server.school_link(seeded.hill, seeded.sam))
    assert browser.current_url.endswith(f"/school/{seeded.hill}")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Hill School"
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en-GB"
    # The chart has an accessible name and description, and a table of the same figures.
    chart = browser.find_element(By.CSS_SELECTOR, "svg[role=img]")
    assert chart.get_attribute("aria-labelledby") == "chart-title chart-desc"
    assert len(chart.find_elements(By.CSS_SELECTOR, "rect.bar")) == 6
    assert len(chart.find_elements(By.CSS_SELECTOR, "line.target")) >= 1
    profile = browser.find_element(By.XPATH, "//table[caption[starts-with(., 'Maturity')]]")
    rows = profile.find_elements(By.CSS_SELECTOR, "tbody tr")
    assert len(rows) == 6
    first = [c.text for c in rows[0].find_elements(By.CSS_SELECTOR, "th, td")]
    assert first[0].startswith("1. Careers Leadership")
    assert first[1] == "2.57" and first[3] == "2.43" and first[4] == "+0.14"
    # Change since the last review: the statements whose level moved.
    changes = browser.find_element(By.XPATH, "//table[caption[starts-with(., 'Statements')]]")
    assert "1.2 Leaders' vision" in changes.text and "4.1 Careers education" in changes.text
    # Overdue, by status, by half-term and evidence.
    body = text(browser)
    assert "Overdue actions" in body and "Evidence links by theme" in body
    assert "2024/25 HT3" in body
    assert_accessible(browser)
    screenshot(browser, "dashboard-school.png")

    # The keyboard: the first Tab reaches the skip link, which moves focus to the content.
    from selenium.webdriver.common.keys import Keys

    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    skip = browser.switch_to.active_element
    assert skip.text == "Skip to the main content" and skip.is_displayed()
    skip.send_keys(Keys.ENTER)
    assert browser.switch_to.active_element.get_attribute("id") == "main"

    # Printed: the filters are left out, the figures kept; Chromium prints it to PDF.
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    assert not browser.find_element(By.CSS_SELECTOR, "nav.filters").is_displayed()
    assert profile.is_displayed() and chart.is_displayed()
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    assert browser.find_element(By.CSS_SELECTOR, "nav.filters").is_displayed()
    import base64

    from selenium.webdriver.common.print_page_options import PrintOptions

    pdf = base64.b64decode(browser.print_page(PrintOptions()))
    pages = re.findall(rb"/Type\s*/Page(?!s)", pdf)
    assert pdf.startswith(b"%PDF") and len(pages) >= 2, len(pages)  # a long page, paginated

    # A theme link, clicked: only theme 4's actions and evidence.
    click_and_wait(browser, browser.find_element(By.LINK_TEXT, "Theme 4"))
    assert "theme=4" in browser.current_url
    assert "Showing theme 4 only" in text(browser)
    listed = browser.find_elements(By.CSS_SELECTOR, "table.actions tbody th")
    assert listed and all(cell.text.startswith("4.") for cell in listed)
    evidence = browser.find_element(By.XPATH, "//table[caption='Evidence links by theme']")
    assert len(evidence.find_elements(By.CSS_SELECTOR, "tbody tr")) == 1

    # The filter form, submitted with the keyboard's button: all themes, done actions.
    Select(browser.find_element(By.ID, "theme")).select_by_value("")
    Select(browser.find_element(By.ID, "status")).select_by_value("done")
    click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "form button[type=submit]"))
    assert "status=done" in browser.current_url
    assert "No actions to show here." in text(browser)

    # The status links: overdue actions, all of them marked so.
    click_and_wait(browser, browser.find_element(By.LINK_TEXT, "Overdue"))
    assert "status=overdue" in browser.current_url
    statuses = browser.find_elements(By.CSS_SELECTOR, "table.actions tbody td:last-child")
    assert len(statuses) == 17 and {s.text for s in statuses} == {"Overdue"}
    assert_accessible(browser)


def test_the_group_page_shows_the_groups_figures_and_suppresses_small_groups(
    server: Server, browser: Any
) -> None:
    from selenium.webdriver.common.by import By

    seeded = server.seeded
    browser.get(server.lead_link(seeded.hub, seeded.lead))
    assert browser.current_url.endswith(f"/group/{seeded.hub}")
    assert browser.find_element(By.TAG_NAME, "h1").text == "North Careers Hub"
    body = text(browser)
    assert "6 schools in the group" in body  # the seventh has not accepted
    # The group's own leads see its member schools (as in chat), never one not accepted.
    assert "Hill School" in body and "Valley School" in body and "Moor School" not in body
    spread = browser.find_element(By.XPATH, "//table[caption[starts-with(., 'Median')]]")
    cells = [
        c.text
        for c in spread.find_elements(By.CSS_SELECTOR, "tbody tr")[0].find_elements(
            By.CSS_SELECTOR, "td"
        )
    ]
    assert cells[0] == "6" and cells[1:4] == ["2.43", "2.43", "2.57"]
    assert_accessible(browser)
    screenshot(browser, "dashboard-group.png")

    browser.get(server.lead_link(seeded.small, seeded.small_lead))
    body = text(browser)
    assert "Figures not shown" in body and "fewer than five schools" in body
    assert not browser.find_elements(By.XPATH, "//table[caption[starts-with(., 'Median')]]")
    assert_accessible(browser)


def test_other_pages_and_expired_or_revoked_links_are_refused(server: Server, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    seeded = server.seeded
    link = server.school_link(seeded.hill, seeded.sam)
    # Another school's page, and a group's page, with Hill's link.
    for other in (f"/school/{seeded.valley}", f"/group/{seeded.hub}"):
        assert status_of(link + other) == 403
        browser.get(link + other)
        assert browser.find_element(By.TAG_NAME, "h1").text == "This link does not open that page"
        assert "Valley School" not in text(browser)
        click_and_wait(
            browser, browser.find_element(By.LINK_TEXT, "Open the page this link is for")
        )
        assert browser.find_element(By.TAG_NAME, "h1").text == "Hill School"
    # A lead's link opens no school's page.
    lead = server.lead_link(seeded.hub, seeded.lead)
    assert status_of(lead + f"/school/{seeded.hill}") == 403
    # A forged token.
    token = link.rsplit("/", 1)[1]
    assert status_of(link.replace(token, token[:-4] + "AAAA")) == 403
    assert_accessible(browser)

    # An expired link: issued eight days ago.
    old = server.school_link(seeded.valley, seeded.sam + 1, at=NOW - timedelta(days=8))
    assert status_of(old) == 410
    browser.get(old)
    assert browser.find_element(By.TAG_NAME, "h1").text == "This link has expired"
    assert "Type dashboard to the Careers Impact Bot" in text(browser)
    assert_accessible(browser)
    screenshot(browser, "dashboard-expired.png")

    # The Teams tab's page: accessible too.
    browser.get(server.base + "/dashboard/teams")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Your careers dashboard"
    assert_accessible(browser)

    # A revoked link: refused from the next page on, and says so.
    assert server.revoke(seeded.hill) >= 1
    browser.get(link)
    assert browser.find_element(By.TAG_NAME, "h1").text == "This link was withdrawn"
    assert status_of(link + f"/school/{seeded.hill}") == 410
