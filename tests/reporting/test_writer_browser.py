"""Open the HTML report in headless Chromium and check that every figure decodes and renders."""

import re
import shutil
import subprocess

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium package is not installed")
def test_every_figure_loads_in_headless_chromium(tiny_run, tmp_path):
    from curriculens.reporting.writer import write_report

    out, _, _ = tiny_run
    page = write_report(out).read_text()
    n_img = page.count("<img ")
    # a probe script writes how many images decoded (naturalWidth > 0) into the title
    probe = (
        "<script>window.addEventListener('load',()=>{const i=[...document.images];"
        "document.title='loaded:'+i.filter(x=>x.complete&&x.naturalWidth>0).length+"
        "'/'+i.length;});</script>"
    )
    html = tmp_path / "report.html"
    html.write_text(page.replace("</body>", probe + "</body>"))
    r = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=5000",
            "--dump-dom",
            html.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    m = re.search(r"<title>loaded:(\d+)/(\d+)</title>", r.stdout)
    assert m, f"no probe result in the DOM; chromium said: {r.stderr[-500:]}"
    assert int(m.group(2)) == n_img >= 4
    assert int(m.group(1)) == n_img


def _playwright_chromium():
    """A launched headless Chromium from playwright, or None with the reason it is missing."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None, None, "playwright is not installed (pip install playwright)"
    pw = sync_playwright().start()
    try:
        return pw, pw.chromium.launch(headless=True), ""
    except Exception as e:  # the browser binary was never downloaded
        pw.stop()
        return None, None, f"playwright's chromium does not start ({str(e).splitlines()[0]})"


@pytest.mark.slow
def test_the_demo_report_renders_every_figure_in_playwright_chromium(tmp_path):
    """#17: the demo's report, opened in headless Chromium: every embedded figure decodes, and
    every SVG it links opens and draws; every PDF it links is a complete PDF file."""
    pw, browser, why = _playwright_chromium()
    if browser is None:
        pytest.skip(why)
    from curriculens.cli.main import main

    out = tmp_path / "demo"
    try:
        argv = ["demo", "--out", str(out), "--train-steps", "200", "--checkpoints", "6",
                "--examples", "60", "--quiet"]  # fmt: skip
        assert main(argv) == 0
        html = out / "report.html"
        page = browser.new_page()
        page.goto(html.as_uri())
        page.wait_for_load_state("load")
        imgs = page.evaluate(
            "[...document.images].map(i => [i.alt, i.complete && i.naturalWidth > 0])"
        )
        assert len(imgs) >= 4 and all(ok for _, ok in imgs), imgs
        links = page.evaluate("[...document.querySelectorAll('figcaption a')].map(a => a.href)")
        svgs = [u for u in links if u.endswith(".svg")]
        pdfs = [u for u in links if u.endswith(".pdf")]
        assert len(svgs) == len(pdfs) == len(imgs)
        for url in svgs:
            page.goto(url)
            box = page.evaluate(
                "(() => { const b = document.documentElement.getBBox(); "
                "return [b.width, b.height, document.querySelectorAll('path').length]; })()"
            )
            assert box[0] > 100 and box[1] > 100 and box[2] > 10, (url, box)
        for url in pdfs:
            data = (out / "figures" / url.rsplit("/", 1)[-1]).read_bytes()
            assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    finally:
        browser.close()
        pw.stop()
