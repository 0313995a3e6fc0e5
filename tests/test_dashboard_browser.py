"""The portfolio dashboard in a real browser (headless Chromium, as tests/test_browser.py).

A headless window cannot be narrower than 500 px, so the phone width is a 390 px iframe:
a harness page loads the dashboard into it (same folder, --allow-file-access-from-files)
and writes what it measures into its own DOM, which --dump-dom prints. Measured at 1280 px
and at 390 px: no horizontal page overflow, every table inside a scrolling box that shows all
of it (scrolls instead of being cut off), every chart drawn with a size, inside the page; and
the script: sorting by a column and filtering by text and by class.
"""
from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from kamrules.cli import main
from test_browser import browser, console_messages, png_size, run  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parent.parent
EXPORT = ROOT / "examples" / "portfolio" / "crm-export.csv"

PROBE = """<!DOCTYPE html><html><body style="margin:0">
<iframe id="f" src="index.html" style="width:%dpx;height:900px;border:0"></iframe><pre id="out">pending</pre>
<script>
document.getElementById("f").addEventListener("load", function () {
  var w = this.contentWindow, d = w.document, r = {}, all = Array.prototype.slice;
  r.width = w.innerWidth; r.client = d.documentElement.clientWidth; r.scroll = d.documentElement.scrollWidth;
  r.tables = all.call(d.querySelectorAll("table")).map(function (t) {
    var box = t.parentElement;
    return {inScroll: box.classList.contains("scroll"), overflow: w.getComputedStyle(box).overflowX,
            box: box.clientWidth, boxScroll: box.scrollWidth, table: Math.ceil(t.getBoundingClientRect().width),
            right: Math.round(box.getBoundingClientRect().right)};
  });
  r.svgs = all.call(d.querySelectorAll("svg")).map(function (s) {
    var b = s.getBoundingClientRect(); return [Math.round(b.width), Math.round(b.height), Math.round(b.right)];
  });
  var t = d.getElementById("accounts-table"), heads = t.tHead.rows[0].cells, rev = -1;
  for (var i = 0; i < heads.length; i++) if (heads[i].hasAttribute("data-num") && rev < 0) rev = i;
  r.buttons = t.querySelectorAll("th button").length;
  function col(i) { return all.call(t.tBodies[0].rows).map(function (row) { return row.cells[i].getAttribute("data-v"); }); }
  heads[rev].querySelector("button").click(); r.up = col(rev);
  heads[rev].querySelector("button").click(); r.down = col(rev);
  r.sortLabel = heads[rev].getAttribute("aria-sort");
  d.getElementById("filter").hidden = false;
  r.filterShown = !d.getElementById("filter").hidden;
  var q = d.getElementById("q"); q.value = "%s"; q.dispatchEvent(new w.Event("input"));
  r.afterText = all.call(t.tBodies[0].rows).filter(function (row) { return !row.hidden; }).length;
  r.shownText = d.getElementById("shown").textContent;
  q.value = ""; q.dispatchEvent(new w.Event("input"));
  var c = d.getElementById("cls"); c.value = "key"; c.dispatchEvent(new w.Event("change"));
  r.afterClass = all.call(t.tBodies[0].rows).filter(function (row) { return !row.hidden; })
    .map(function (row) { return row.getAttribute("data-final"); });
  document.getElementById("out").textContent = JSON.stringify(r);
});
</script></body></html>"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example export's dashboard, plus a hostile account with a 500-character name, with
    `--since` a review recorded a quarter before (so the changes section and its tables are on
    the page: 鼎力泵业 sold three times as much then)."""
    tmp = tmp_path_factory.mktemp("dash")
    rows = list(csv.reader(EXPORT.read_text(encoding="utf-8-sig").splitlines()))
    long_name = "<script>alert(1)</script>" + "长" * 240 + "Wide" * 60
    rows.append(["ZZ-999", long_name, *rows[1][2:]])
    export = tmp / "export.csv"
    with export.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    revenue = rows[0].index("年交易额(万元)")
    before = [[*r[:revenue], str(int(r[revenue]) * 3), *r[revenue + 1:]] if r[0] == "DL-008" else r for r in rows]
    with (tmp / "before.csv").open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(before)
    store = str(tmp / "reviews.sqlite")
    r = CliRunner().invoke(main, ["portfolio", str(tmp / "before.csv"), "--as-of", "2026-03-31", "--engine", "reference",
                                  "--record", "--store", store])
    assert r.exit_code == 0, r.stderr
    r = CliRunner().invoke(main, ["portfolio", str(export), "--as-of", "2026-06-30", "--engine", "reference",
                                  "--lang", "en", "-f", "html", "-o", str(tmp / "index.html"),
                                  "--playbooks", str(tmp / "accounts"), "--store", store, "--since", "2026-03-31"])
    assert r.exit_code == 0, r.stderr
    return tmp


def measure(browser: str, site: Path, width: int, text: str = "HX-001") -> dict:
    page = site / f"probe-{width}.html"
    page.write_text(PROBE % (width, text), encoding="utf-8")
    proc = run(browser, site, page, "--allow-file-access-from-files", "--window-size=1400,1000", "--dump-dom")
    assert console_messages(proc.stderr) == []
    m = re.search(r'<pre id="out">(.*?)</pre>', proc.stdout, re.S)
    assert m and m.group(1) != "pending", proc.stdout[-2000:]
    return json.loads(m.group(1).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
                      .replace("&quot;", '"'))


@pytest.mark.parametrize("width", [1280, 390])
def test_fits_the_screen_tables_scroll_charts_show(browser: str, site: Path, width: int) -> None:
    r = measure(browser, site, width)
    assert r["width"] == width
    assert r["scroll"] <= r["client"], f"the page scrolls sideways at {width}px ({r['scroll']} > {r['client']})"
    assert len(r["tables"]) >= 5  # tiers, heat, accounts, and --since's migration and changes
    for t in r["tables"]:
        assert t["inScroll"] and t["overflow"] == "auto", t
        assert t["boxScroll"] >= t["table"] - 1, f"part of a table cannot be reached: {t}"
        assert t["right"] <= r["client"], t
    if width == 390:
        assert any(t["boxScroll"] > t["box"] for t in r["tables"]), "the account table scrolls on a phone"
    assert len(r["svgs"]) >= 4
    for w, h, right in r["svgs"]:
        assert w > 100 and h > 80 and right <= r["client"], r["svgs"]


def test_sorts_and_filters(browser: str, site: Path) -> None:
    r = measure(browser, site, 1280, "HX-001")
    assert r["buttons"] >= 8
    up = [float(v) for v in r["up"] if v]
    down = [float(v) for v in r["down"] if v]
    assert up == sorted(up) and down == sorted(down, reverse=True) and len(up) >= 10
    assert r["up"][len(up):] == [""] * (len(r["up"]) - len(up)), "missing values sort last both ways"
    assert r["sortLabel"] == "descending"
    assert r["afterText"] == 1 and r["shownText"] == "1"
    assert r["afterClass"] and set(r["afterClass"]) == {"key"}


def test_loads_without_console_errors_and_with_the_script_off(browser: str, site: Path, tmp_path: Path) -> None:
    proc = run(browser, tmp_path, site / "index.html", "--dump-dom")
    assert console_messages(proc.stderr) == []
    dom = proc.stdout
    assert "<script>alert" not in dom and "&lt;script&gt;alert(1)&lt;/script&gt;" in dom
    assert 'id="filter"' in dom and 'id="filter" hidden' not in dom  # the script showed the filter
    assert "<button" in dom
    # without script (--dump-dom needs it, so read the file): the filter stays hidden and the
    # table is a plain table with every account
    off = (site / "index.html").read_text(encoding="utf-8")
    assert 'id="filter" hidden' in off and "<button" not in off
    assert off.count("<tr data-final") == 11
    assert 'id="since"' in off and '<table class="migration">' in off and '<table class="since">' in off


def test_screenshot_at_phone_width(browser: str, site: Path, tmp_path: Path) -> None:
    shot = tmp_path / "phone.png"
    proc = run(browser, tmp_path, site / "index.html", f"--screenshot={shot}", "--window-size=390,2400")
    assert console_messages(proc.stderr) == []
    assert png_size(shot.read_bytes()) == (390, 2400)
