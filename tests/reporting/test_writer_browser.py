"""Open the HTML report in headless Chromium and check that every figure decodes and renders."""

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
#: the browser window: the page's own width (its body is at most 1,100 px) plus a margin
WINDOW = (1280, 6000)

#: Run after the page loads: which images decoded, and which visible boxes hold text wider than
#: they are (a cell, a caption, a heading, a table's scrolling frame: a table that only fits by
#: scrolling sideways) or stick out of the page; code blocks may scroll. The verdict is written
#: into the DOM as JSON, which ``--dump-dom`` prints.
PROBE = """<script>
window.addEventListener('load', () => {
  const imgs = [...document.images];
  const broken = imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt);
  const right = document.body.getBoundingClientRect().right + 1;
  const over = [];
  const name = el => el.tagName + ' "' + el.textContent.trim().slice(0, 50) + '"';
  for (const el of document.querySelectorAll(
      'td,th,li,p,h1,h2,figcaption,summary,div.table,table,figure,img')) {
    if (el.offsetParent === null || el.closest('pre') !== null) continue;  // hidden; code
    if (el.scrollWidth > el.clientWidth + 1) over.push('overflows: ' + name(el));
    if (el.getBoundingClientRect().right > right) over.push('past the page: ' + name(el));
  }
  if (document.documentElement.scrollWidth > window.innerWidth) over.push('page scrolls sideways');
  const out = document.createElement('pre');
  out.id = 'browser-check';
  out.textContent = JSON.stringify({images: imgs.length, broken: broken, over: over});
  document.body.appendChild(out);
});
</script>"""


def _chromium(*args, profile):
    return subprocess.run(
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
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            f"--window-size={WINDOW[0]},{WINDOW[1]}",
            "--virtual-time-budget=10000",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )


def check_in_browser(page: Path, work: Path) -> dict:
    """Open ``page`` (a report.html) in headless Chromium: the :data:`PROBE` verdict
    (``images``, ``broken``, ``over``) and a screenshot of the page at ``work/report.png``."""
    probed = work / "probed.html"
    probed.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    r = _chromium("--dump-dom", probed.as_uri(), profile=work / "profile")
    m = re.search(r'<pre id="browser-check">(.*?)</pre>', r.stdout, re.S)
    assert m, f"no verdict in the DOM; chromium said: {r.stderr[-800:]}"
    shot = work / "report.png"
    _chromium(f"--screenshot={shot}", page.as_uri(), profile=work / "profile")
    return dict(json.loads(html.unescape(m.group(1))), screenshot=shot)


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium package is not installed")
def test_the_report_renders_in_headless_chromium(tiny_run, tmp_path):
    """Every figure of the report decodes (naturalWidth > 0), no text overflows its box or the
    page, and a screenshot of the page is taken (and is not blank)."""
    from curriculens.reporting.writer import write_report

    out, _, _ = tiny_run
    page = write_report(out, out=tmp_path / "report", cache=False)
    n_img = page.read_text().count("<img ")
    found = check_in_browser(page, tmp_path)
    assert found["images"] == n_img >= 4
    assert found["broken"] == []
    assert found["over"] == []
    shot = found["screenshot"].read_bytes()
    assert shot.startswith(b"\x89PNG") and len(shot) > 20_000  # a page of text and figures


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
