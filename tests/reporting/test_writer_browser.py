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
