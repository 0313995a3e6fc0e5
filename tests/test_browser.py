"""The HTML playbook in a real browser: headless Chromium (the Debian package `chromium`) loads
it without console errors, builds the SVG charts, takes a screenshot and prints it to PDF.

Where no Chromium is installed the tests skip with the command that installs it
(`apt-get install chromium`); `.ci/run` installs it so CI always runs them.
"""
from __future__ import annotations

import datetime as _dt
import re
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kamrules import pipeline
from kamrules.advice.render import render

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "playbook"
AS_OF = _dt.date(2026, 6, 30)
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")
# Chromium with --enable-logging=stderr reports the page's console as
# "[pid:tid:date:INFO:CONSOLE:line] "message", source: file:///… (line)".
CONSOLE = re.compile(r":CONSOLE[:(]|Uncaught")


@pytest.fixture(scope="module")
def browser() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("chromium not installed: apt-get install chromium")


def run(browser: str, tmp: Path, page: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [browser, *FLAGS, f"--user-data-dir={tmp / 'profile'}", "--enable-logging=stderr", "--v=0", *extra,
           page.resolve().as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"chromium failed ({proc.returncode}): {proc.stderr[-2000:]}"
    return proc


def console_messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if CONSOLE.search(line)]


def write_playbook(tmp: Path, account: str, rulebook: str, lang: str) -> Path:
    advice = pipeline.advise(account, rulebook, as_of=AS_OF, lang=lang, engine="reference")
    page = tmp / f"{Path(account).stem}.{lang}.html"
    page.write_text(render(advice, "html"), encoding="utf-8")
    return page


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk comes first
    return width, height


def test_the_console_check_catches_a_script_error(browser: str, tmp_path: Path) -> None:
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><body><p>x</p><script>console.error('boom'); nowhere();</script>"
                    "</body></html>", encoding="utf-8")
    messages = console_messages(run(browser, tmp_path, page, "--dump-dom").stderr)
    assert any("boom" in m for m in messages) and any("Uncaught ReferenceError" in m for m in messages), messages


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_playbook_loads_without_console_errors_and_draws_its_charts(browser: str, tmp_path: Path, lang: str) -> None:
    page = write_playbook(tmp_path, str(ROOT / "examples" / "accounts" / "huaxin-steel.yaml"), "course", lang)
    proc = run(browser, tmp_path, page, "--dump-dom")
    assert console_messages(proc.stderr) == []
    dom = proc.stdout
    assert dom.count("<svg") >= 5, "scores, quadrant, flight, pyramid and the service ladder"
    assert 'class="tier current"' in dom and 'class="rung current"' in dom and "<circle" in dom
    assert dom.count('class="bar"') >= 3 and "<script" not in dom
    assert 'id="analysis"' in dom and 'id="relationships"' in dom and 'id="management"' in dom


def test_screenshot_and_printout(browser: str, tmp_path: Path) -> None:
    page = write_playbook(tmp_path, str(ROOT / "examples" / "accounts" / "huaxin-steel.yaml"), "course", "en")
    shot = tmp_path / "p.png"
    proc = run(browser, tmp_path, page, f"--screenshot={shot}", "--window-size=1200,3000")
    assert console_messages(proc.stderr) == []
    data = shot.read_bytes()
    assert png_size(data) == (1200, 3000)
    # the control: a blank page of the same size (~17 KB); text, tables and charts compress far worse
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body></body></html>", encoding="utf-8")
    run(browser, tmp_path, blank, f"--screenshot={tmp_path / 'blank.png'}", "--window-size=1200,3000")
    empty = (tmp_path / "blank.png").stat().st_size
    assert len(data) > 4 * empty, f"the screenshot looks empty ({len(data)} bytes; a blank page is {empty})"
    pdf = tmp_path / "p.pdf"
    run(browser, tmp_path, page, f"--print-to-pdf={pdf}", "--no-pdf-header-footer")
    head = pdf.read_bytes()
    assert head.startswith(b"%PDF")
    pages = max(int(n) for n in re.findall(rb"/Count (\d+)", head))
    assert pages >= 3, f"the printout has {pages} page(s)"


def test_hostile_account_text_stays_text_in_the_browser(browser: str, tmp_path: Path) -> None:
    page = write_playbook(tmp_path, str(DATA / "xss.yaml"), str(DATA / "mini.yaml"), "en")
    proc = run(browser, tmp_path, page, "--dump-dom")
    assert console_messages(proc.stderr) == []  # alert() would need a script to run
    dom = proc.stdout
    assert "<script" not in dom and "<img" not in dom and "<b>bold" not in dom
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom


# --------------------------------------------------------------------------- the playbook on a phone
# Headless Chromium keeps a window at least 500 px wide, so the phone is a 390 px wide iframe
# (srcdoc: same origin, measurable from the host page): the playbook's own media queries and
# layout see a 390 px viewport, exactly as on the phone. The desktop is a 1200 px iframe.

MEASURE = """
const doc = document.querySelector('iframe').contentDocument, win = doc.defaultView;
const out = {vw: win.innerWidth, page: doc.documentElement.scrollWidth};
const fig = doc.querySelector('table.figures'), box = fig.parentElement;
// the figures scroll in their box (.scroll), or on a phone the table itself scrolls (display:block)
out.figures = {box: box.className, overflow: win.getComputedStyle(box).overflowX,
               boxRight: Math.max(box.getBoundingClientRect().right, fig.getBoundingClientRect().right),
               scrolls: box.scrollWidth > box.clientWidth || fig.scrollWidth > fig.clientWidth};
out.wide = [...doc.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > win.innerWidth + 1
    && !e.closest('.scroll, table')).map(e => e.tagName + '.' + e.className);
const plan = doc.querySelector('table.plan'), action = plan.querySelector('td.action');
out.plan = {table: plan.getBoundingClientRect().width, action: action.getBoundingClientRect().width};
const kids = [...doc.querySelector('.chart-quadrant svg').children];
out.quadrant = [];
for (let i = 0; i + 1 < kids.length; i++) {
  if (kids[i].tagName !== 'rect' || kids[i + 1].tagName !== 'text') continue;
  const cell = kids[i].getBBox(), t = kids[i + 1].getBBox();
  out.quadrant.push([kids[i + 1].textContent, t.x - cell.x, cell.x + cell.width - (t.x + t.width)]);
}
out.chips = [...doc.querySelectorAll('#why h3 .chip')].map(c => [c.textContent, win.getComputedStyle(c).backgroundColor]);
const pre = document.createElement('pre'); pre.id = 'measure'; pre.textContent = JSON.stringify(out);
document.body.appendChild(pre);
"""


def measure(browser: str, tmp: Path, page: Path, width: int) -> dict[str, Any]:
    import html as _html
    import json

    host = tmp / f"host-{width}.html"
    host.write_text(f'<!DOCTYPE html><html><body style="margin:0">'
                    f'<iframe style="width:{width}px;height:4000px;border:0" '
                    f'srcdoc="{_html.escape(page.read_text(encoding="utf-8"), quote=True)}"></iframe>'
                    f'<script>window.addEventListener("load", () => {{{MEASURE}}});</script></body></html>',
                    encoding="utf-8")
    proc = run(browser, tmp, host, "--dump-dom", "--window-size=1300,1000", "--virtual-time-budget=5000")
    found = re.search(r'<pre id="measure">(.*?)</pre>', proc.stdout, re.S)
    assert found, f"the measuring script did not run: {proc.stderr[-1500:]}"
    data: dict[str, Any] = json.loads(_html.unescape(found.group(1)))
    return data


def rgb(css: str) -> tuple[int, int, int]:
    r, g, b = (int(x) for x in re.findall(r"\d+", css)[:3])
    return r, g, b


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("width", [390, 1200])
def test_the_playbook_on_a_phone_and_a_desktop(browser: str, tmp_path: Path, lang: str, width: int) -> None:
    page = write_playbook(tmp_path, str(ROOT / "examples" / "accounts" / "huaxin-steel.yaml"), "course", lang)
    m = measure(browser, tmp_path, page, width)
    assert m["vw"] == width
    # nothing is cut off: the page itself never scrolls sideways …
    assert m["page"] <= width and m["wide"] == [], m
    # … the key figures scroll inside their own box where they do not fit
    assert m["figures"]["box"] == "scroll" and m["figures"]["overflow"] == "auto", m["figures"]
    assert m["figures"]["boxRight"] <= width
    if width == 390 and lang == "en":
        assert m["figures"]["scrolls"], "eight figures fit 390 px? then this test no longer tests the scroll"
    # the action plan is not squeezed: its text gets most of the width at both sizes
    assert m["plan"]["action"] >= 0.6 * m["plan"]["table"], m["plan"]
    # no quadrant label crosses the divider (or the outer edge): room on both sides of each
    assert len(m["quadrant"]) == 4
    assert all(left >= 0 and right >= 0 for _, left, right in m["quadrant"]), m["quadrant"]
    # the health band chip has its band's colour: yellow is yellow (red high, green high, blue low)
    chips = dict(m["chips"])
    r, g, b = rgb(chips["Yellow" if lang == "en" else "黄灯"])
    assert r > 240 and g > 230 and b < 225 and r - b > 30, (r, g, b)
