"""The dashboard in a real browser: Debian's headless Chromium driven by selenium.

The server is ``specmarket serve`` on a random loopback port (SQLite). The tests sign in with
the operator's token, open a McAfee market, watch reports arrive, close it from the page and read
the cleared outcome; a participant signs in and sees only its own part. Screenshots at 1280 px
and 390 px are saved in the test's tmp dir (and copied to ``docs/img/dashboard-*.png`` when
``SPECMARKET_SAVE_SCREENSHOTS=1``). Any browser console message of level SEVERE (a script error,
a CSP violation, a failed request) fails the test.

A missing browser, driver or selenium is a test *failure* (CI installs them); set
``SPECMARKET_TEST_NO_BROWSER=1`` to skip on purpose on a machine without them.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.service.server import Server

pytestmark = pytest.mark.slow

CHROMIUM = os.environ.get("SPECMARKET_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("SPECMARKET_CHROMEDRIVER", "/usr/bin/chromedriver")
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
TOKEN = "browser-operator-" + secrets.token_hex(16)

# McAfee example of the library (examples/mcafee.json): buyer price 6, seller price 5, welfare 10
BUYERS = {"b1": 9.0, "b2": 7.0, "b3": 6.0}
SELLERS = {"s1": 2.0, "s2": 4.0, "s3": 5.0}


def _need_browser() -> None:
    if os.environ.get("SPECMARKET_TEST_NO_BROWSER") == "1":
        pytest.skip("SPECMARKET_TEST_NO_BROWSER=1: browser tests skipped on purpose")
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("python package selenium")
    if missing:
        pytest.fail(
            f"browser tests need {', '.join(missing)} (apt-get install chromium chromium-driver; "
            "pip install selenium); set SPECMARKET_TEST_NO_BROWSER=1 to skip on purpose"
        )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    _need_browser()
    root = tmp_path_factory.mktemp("dash")
    srv = Server(f"sqlite:///{root / 'dash.db'}", TOKEN, cwd=root)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def browser(server: Server) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"  # selenium-manager must never download anything
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,900", "--hide-scrollbars", "--force-device-scale-factor=1",
                "--no-first-run", "--disable-extensions"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _console_errors(driver: Any) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def _wait(what: str, check: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except Exception as exc:  # element not there yet, stale after a refresh
            last = exc
        else:
            if last:
                return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def _text(driver: Any, element_id: str) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.ID, element_id).text)


def _screenshot(driver: Any, tmp_path: Path, name: str, width: int) -> Path:
    height = 900 if width > 600 else 844
    driver.set_window_size(width, height)
    time.sleep(0.6)  # charts redraw on resize
    full = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, max(height, min(int(full) + 120, 4000)))
    time.sleep(0.6)
    out = tmp_path / f"dashboard-{name}-{width}.png"
    assert driver.save_screenshot(str(out))
    assert out.stat().st_size > 10_000
    if os.environ.get("SPECMARKET_SAVE_SCREENSHOTS") == "1":
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        shutil.copy(out, DOCS_IMG / out.name)
    driver.set_window_size(1280, 900)
    return out


class Api:
    """The operator's and the participants' calls, over HTTP."""

    def __init__(self, server: Server) -> None:
        self.url = server.url
        self.op = {"Authorization": f"Bearer {TOKEN}"}

    def open(self, closes_in: float | None = None) -> str:
        body: dict[str, Any] = {"mechanism": "mcafee"}
        if closes_in is not None:
            body["closes_at"] = time.strftime(
                "%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + closes_in)
            )
        r = httpx.post(f"{self.url}/v1/markets", json=body, headers=self.op)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def add(self, market: str, pid: str, role: str) -> str:
        r = httpx.post(f"{self.url}/v1/markets/{market}/participants",
                       json={"id": pid, "role": role}, headers=self.op)
        assert r.status_code == 201, r.text
        return str(r.json()["token"])

    def report(self, market: str, token: str, body: dict[str, float]) -> None:
        r = httpx.put(f"{self.url}/v1/markets/{market}/report", json=body,
                      headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text


def _sign_in(driver: Any, server: Server, token: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver.get(server.url + "/")
    field = _wait("the token field", lambda: driver.find_element(By.ID, "token"))
    # keyboard only: the field has focus on load, Enter submits
    assert driver.switch_to.active_element == field
    field.send_keys(token)
    field.send_keys(Keys.ENTER)
    assert token not in driver.current_url


def test_operator_watches_a_round_and_reads_the_outcome(
    server: Server, browser: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    api = Api(server)
    market = api.open(closes_in=3600)
    tokens = {pid: api.add(market, pid, "buyer") for pid in BUYERS}
    tokens |= {pid: api.add(market, pid, "seller") for pid in SELLERS}
    for pid in ("b1", "s1"):
        api.report(market, tokens[pid], {"bid": BUYERS["b1"]} if pid == "b1" else {"ask": 2.0})

    _sign_in(browser, server, TOKEN)
    _wait("the operator view", lambda: "operator" in _text(browser, "whoami"))
    row = _wait("the market in the list", lambda: browser.find_element(
        By.CSS_SELECTOR, f'#markets-table tr[data-id="{market}"]'))
    assert "open" in row.text and "mcafee" in row.text
    assert "in 59 min" in row.text or "in 1 h" in row.text  # countdown to closes_at
    assert browser.execute_script("return sessionStorage.getItem('specmarket.token')") == TOKEN

    # open it with the keyboard: focus its button, press Enter
    button = row.find_element(By.TAG_NAME, "button")
    browser.execute_script("arguments[0].focus()", button)
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    _wait("the detail view", lambda: _text(browser, "detail-id") == market)
    assert market not in browser.execute_script("return sessionStorage.getItem('specmarket.token')")
    _wait("2 reports", lambda: _text(browser, "detail-reports") == "2")

    # the rest arrive while the page watches
    for pid, bid in BUYERS.items():
        if pid != "b1":
            api.report(market, tokens[pid], {"bid": bid})
    for pid, ask in SELLERS.items():
        if pid != "s1":
            api.report(market, tokens[pid], {"ask": ask})
    _wait("6 reports", lambda: _text(browser, "detail-reports") == "6")
    _wait("the timeline to count 6",
          lambda: "6 accepted so far" in _text(browser, "timeline-caption"))
    total = browser.execute_script(
        "const c = Chart.getChart('timeline-chart'); return c.data.datasets[0].data"
        ".reduce((a, b) => a + b, 0)"
    )
    assert total == 6
    _screenshot(browser, tmp_path, "open", 1280)
    _screenshot(browser, tmp_path, "open", 390)

    close = browser.find_element(By.ID, "close-btn")
    assert close.is_displayed()
    close.click()
    _wait("the cleared status", lambda: _text(browser, "detail-status") == "cleared")
    facts = _wait("the outcome facts", lambda: {
        e.get_attribute("data-key"): e.text
        for e in browser.find_elements(By.CSS_SELECTOR, "#outcome-facts dd")
    })
    assert facts["buyer_price"] == "6"
    assert facts["seller_price"] == "5"
    assert facts["welfare"] == "10"
    assert facts["revenue"] == "2"
    assert facts["efficient_trades"] == "3"
    assert facts["winners"] == "b1, b2, s1, s2"
    rows = {
        tr.get_attribute("data-participant"):
            [td.text for td in tr.find_elements(By.TAG_NAME, "td")]
        for tr in browser.find_elements(By.CSS_SELECTOR, "#outcome-table tbody tr")
    }
    assert rows["b1"] == ["b1", "1", "6"]
    assert rows["s1"] == ["s1", "1", "-5"]
    assert rows["b3"] == ["b3", "0", "0"]
    bars = browser.execute_script(
        "const c = Chart.getChart('outcome-chart'); return [c.data.labels, c.data.datasets[1].data,"
        " c.options.scales.y.title.text, c.options.scales.y2.title.text]"
    )
    assert bars[0] == ["b1", "b2", "b3", "s1", "s2", "s3"]
    assert bars[1] == [6, 6, 0, -5, -5, 0]
    assert "units" in bars[2] and "currency" in bars[3]
    assert not close.is_displayed()
    _screenshot(browser, tmp_path, "cleared", 1280)
    _screenshot(browser, tmp_path, "cleared", 390)

    # the outcome the page shows is the service's
    outcome = httpx.get(f"{server.url}/v1/markets/{market}/outcome", headers=api.op).json()
    assert outcome["welfare"] == 10.0 and outcome["buyer_price"] == 6.0

    # back to the list with the keyboard; the market shows cleared
    back = browser.find_element(By.ID, "back")
    browser.execute_script("arguments[0].focus()", back)
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    _wait("cleared in the list", lambda: "cleared" in browser.find_element(
        By.CSS_SELECTOR, f'#markets-table tr[data-id="{market}"]').text)
    assert _console_errors(browser) == []


def test_participant_sees_only_its_own_part(server: Server, browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    api = Api(server)
    market = api.open()
    tokens = {pid: api.add(market, pid, "buyer") for pid in BUYERS}
    tokens |= {pid: api.add(market, pid, "seller") for pid in SELLERS}
    for pid, bid in BUYERS.items():
        api.report(market, tokens[pid], {"bid": bid})
    for pid, ask in SELLERS.items():
        api.report(market, tokens[pid], {"ask": ask})

    _sign_in(browser, server, tokens["b2"])
    _wait("the participant view", lambda: _text(browser, "mine-participant") == "b2")
    assert _text(browser, "mine-status") == "open"
    _wait("its report", lambda: '"bid": 7' in _text(browser, "mine-report"))
    assert not browser.find_element(By.ID, "markets").is_displayed()

    r = httpx.post(f"{server.url}/v1/markets/{market}/close", headers=api.op)
    assert r.status_code == 200
    browser.refresh()  # the token survives a reload (sessionStorage), the page picks it up
    _wait("its outcome", lambda: browser.find_element(By.ID, "mine-outcome").is_displayed())
    own = {e.get_attribute("data-key"): e.text
           for e in browser.find_elements(By.CSS_SELECTOR, "#mine-outcome-facts dd")}
    assert own["payment"] == "6" and own["allocation"] == "1"
    public = {e.get_attribute("data-key"): e.text
              for e in browser.find_elements(By.CSS_SELECTOR, "#mine-public dd")}
    assert public["buyer_price"] == "6"
    assert "welfare" not in public  # operator-only
    assert "revenue" not in public
    page = browser.find_element(By.TAG_NAME, "body").text
    assert '"bid": 9' not in page and "ask" not in page  # nobody else's report
    _screenshot(browser, tmp_path, "participant", 390)

    # signing out forgets the token
    browser.find_element(By.ID, "signout").click()
    _wait("the sign-in form", lambda: browser.find_element(By.ID, "login").is_displayed())
    assert browser.execute_script("return sessionStorage.getItem('specmarket.token')") is None
    assert _console_errors(browser) == []


def test_operator_watches_a_live_data_market(server: Server, browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    api = Api(server)
    r = httpx.post(f"{server.url}/v1/markets", headers=api.op,
                   json={"mechanism": "data-market", "fields": {"isp_price": 10, "epsilon": 0.5}})
    market = str(r.json()["id"])
    tok = {pid: api.add(market, pid, role) for pid, role in
           (("s1", "seller"), ("s2", "seller"), ("A", "buyer"), ("B", "buyer"))}

    def post(pid: str, path: str, body: dict[str, Any], method: str = "POST") -> None:
        r = httpx.request(method, f"{server.url}/v1/markets/{market}/{path}", json=body,
                          headers={"Authorization": f"Bearer {tok[pid]}"})
        assert r.status_code == 200, r.text

    post("s1", "offer", {"supply": 4, "reserve": 1}, "PUT")
    post("s2", "offer", {"supply": 2, "reserve": 1}, "PUT")
    _sign_in(browser, server, TOKEN)
    _wait("the operator view", lambda: "operator" in _text(browser, "whoami"))
    browser.get(f"{server.url}/#market={market}")
    _wait("the live section", lambda: browser.find_element(By.ID, "live").is_displayed())
    assert not browser.find_element(By.ID, "timeline-figure").is_displayed()
    bids = [("A", "s1", 3, 5), ("B", "s1", 2, 4), ("B", "s2", 2, 2), ("A", "s1", 3, 6)]
    for buyer, seller, q, p in bids:  # the page advances while they arrive
        post(buyer, "bid", {"seller": seller, "quantity": q, "price": p})
        time.sleep(1.1)
    _wait("4 bids", lambda: _text(browser, "live-bids") == "4")
    datasets = browser.execute_script(
        "const c = Chart.getChart('live-price-chart'); return c.data.datasets.map("
        "d => [d.label, d.data.length, d.data[d.data.length - 1].y])"
    )
    assert [d[0] for d in datasets] == ["s1", "s2"]
    assert all(d[1] >= 3 for d in datasets)  # several samples over time
    view = httpx.get(f"{server.url}/v1/markets/{market}/quotes", headers=api.op).json()
    assert datasets[0][2] == view["sellers"][0]["reserve"]
    title = browser.execute_script(
        "return Chart.getChart('live-alloc-chart').options.scales.y.title.text")
    assert "units" in title
    _screenshot(browser, tmp_path, "live", 1280)
    _screenshot(browser, tmp_path, "live", 390)
    browser.find_element(By.ID, "close-btn").click()
    _wait("the cleared status", lambda: _text(browser, "detail-status") == "cleared")
    rows = _wait("the settlement table", lambda: {
        tr.get_attribute("data-participant"): tr.text
        for tr in browser.find_elements(By.CSS_SELECTOR, "#outcome-table tbody tr")
    })
    assert set(rows) == {"A", "B", "s1", "s2"}
    assert _console_errors(browser) == []
