"""The web page in a real browser: Debian's chromium driven by Playwright against a live uvicorn server.

Fills the form, reads the result, the urgent banner and the explanation, draws a trend chart, checks the
page with axe-core (WCAG A/AA rules) and that the screenshots are not blank. ./dev installs chromium and
axe-core; Playwright's own browser download is never used.
"""

import os
import socket
import threading
import time
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).resolve().parents[2] / ".venv" / "npm" / "node_modules" / "axe-core" / "axe.min.js"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]  # fmt: skip

if not (CHROMIUM.exists() and AXE.exists()):
    if os.environ.get("CI"):
        raise RuntimeError(f"{CHROMIUM} or {AXE} is missing: ./dev test installs both")
    pytest.skip("chromium or axe-core not installed (./dev test installs them)", allow_module_level=True)

if os.environ.get("CI"):  # on CI a missing Playwright is an error, as a missing browser is
    import playwright.sync_api as playwright_sync
else:
    playwright_sync = pytest.importorskip("playwright.sync_api")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    """A real uvicorn server in a thread, on a free loopback port."""
    import uvicorn

    from leukon.service import Settings, create_app

    port = _free_port()
    config = uvicorn.Config(create_app(Settings()), host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(200):  # wait for the socket to listen (up to 20 s on a loaded machine)
        if srv.started:
            break
        time.sleep(0.1)
    assert srv.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def page(server, tmp_path_factory):
    profile = tmp_path_factory.mktemp("chromium-profile")  # a new, empty user-data-dir
    with playwright_sync.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=ARGS,
            bypass_csp=True,  # so axe can be injected; the page itself runs under its CSP otherwise
            viewport={"width": 1100, "height": 900},
        )
        context.set_default_timeout(30_000)
        page = context.new_page()
        page.goto(server + "/")
        yield page
        context.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    """Where screenshots go: $LEUKON_SCREENSHOTS to keep and look at them, else a temporary folder."""
    out = Path(os.environ.get("LEUKON_SCREENSHOTS") or tmp_path_factory.mktemp("screens"))
    out.mkdir(parents=True, exist_ok=True)
    return out


def _screenshot(page, out: Path, name: str) -> Path:
    path = out / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def _not_blank(path: Path) -> None:
    from PIL import Image, ImageStat

    img = Image.open(path).convert("L")
    stat = ImageStat.Stat(img)
    assert img.width > 500 and img.height > 500
    assert stat.stddev[0] > 20, f"{path} looks blank (stddev {stat.stddev[0]:.1f})"
    assert len(img.getcolors(maxcolors=1 << 16) or range(1 << 16)) > 20


def _axe(page) -> list[dict]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "async () => await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa']}})"
    )
    return [{"id": v["id"], "nodes": [n["target"] for n in v["nodes"]]} for v in result["violations"]]


def test_form_result_explanation_and_urgent_banner(page, shots):
    page.fill("#v-wbc", "2.1")
    page.fill("#v-anc", "0.4")
    page.fill("#age_years", "56")
    page.fill("#temperature", "38.6")
    page.fill("#medicines", "Clozaril 100 mg")
    page.click("button[type=submit]:has-text('Assess')")
    page.wait_for_selector("#result:not([hidden])")
    assert page.is_visible("#urgent")
    findings = page.inner_text("#findings")
    assert "Neutropenia" in findings and "Leukopenia" in findings and "Febrile neutropenia" in findings
    grades = page.inner_text("#grades")
    assert "Neutrophil count decreased" in grades and "3" in grades
    assert "Pediaa" in page.inner_text("#values")  # the range's source is shown
    assert page.is_visible("#explanation .leukon-explanation")
    assert "clozapine" in page.inner_text("#explanation").lower()
    assert page.evaluate("document.activeElement.id") == "result"
    _not_blank(_screenshot(page, shots, "assess"))


def test_bad_value_names_the_field_and_focuses_it(page):
    page.fill("#v-wbc", "abc")
    page.click("button[type=submit]:has-text('Assess')")
    page.wait_for_selector("#form-error:not([hidden])")
    assert page.inner_text("#form-error").startswith("wbc: 'abc' is not a number")
    assert page.get_attribute("#v-wbc", "aria-invalid") == "true"
    assert page.evaluate("document.activeElement.id") == "v-wbc"


def test_keyboard_alone_submits_the_form(page):
    page.click("button[type=reset]")
    page.focus("#v-anc")
    page.keyboard.type("0.9")
    page.keyboard.press("Enter")  # implicit submission from a text field
    page.wait_for_function("document.querySelector('#values').innerText.includes('0.9 10^9/L')")
    assert "Neutropenia" in page.inner_text("#findings")
    assert not page.is_visible("#urgent")  # no temperature this time
    page.keyboard.press("Shift+Tab")  # focus left the result region, back into the page, without a trap
    assert page.evaluate("document.activeElement.tagName") != "BODY"


def test_trend_chart_from_a_pasted_series(page, shots):
    page.click("#series-example")
    page.click("button:has-text('Show the trend')")
    page.wait_for_selector("#trend-result:not([hidden])")
    page.wait_for_function("document.querySelector('#chart').naturalWidth > 0")
    assert "neutrophils" in page.inner_text("#courses")
    assert "nadir 0.2" in page.inner_text("#episodes")
    assert "patient P1" in page.get_attribute("#chart", "alt")
    _not_blank(_screenshot(page, shots, "trend"))


def test_trend_chart_from_an_uploaded_file(page):
    csv = "patient_id,taken_at,anc,wbc\n" + "".join(
        f"Q7,2024-03-{d:02d},{a},{a + 2}\n" for d, a in [(1, 2.5), (8, 0.8), (15, 0.4), (22, 1.9)]
    )
    page.set_input_files("#series-file", files=[{"name": "q7.csv", "mimeType": "text/csv", "buffer": csv.encode()}])
    page.click("button:has-text('Show the trend')")
    page.wait_for_function("document.querySelector('#chart').alt.includes('Q7')")
    assert "nadir 0.4" in page.inner_text("#episodes")
    page.set_input_files("#series-file", files=[])


def test_no_accessibility_violations(page):
    assert _axe(page) == []


def test_print_shows_the_result_not_the_forms(page, shots):
    page.emulate_media(media="print")
    try:
        assert not page.is_visible("#cbc-form") and not page.is_visible("#series-form")
        assert page.is_visible("#result") and page.is_visible("#chart")
        _not_blank(_screenshot(page, shots, "print"))
    finally:
        page.emulate_media(media="screen")
