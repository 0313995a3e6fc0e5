"""Recording, looking back, trends, overrides and replay, end to end through the CLI, on SQLite
and PostgreSQL."""
from __future__ import annotations

import datetime as _dt
import json
import shutil
from pathlib import Path

import pytest
from helpers import EXAMPLES, HUAXIN, ROOT, cli, open_store, trend_account

SCHEMA = json.loads((ROOT / "kamrules" / "schemas" / "output.schema.json").read_text(encoding="utf-8"))


def record(store: str, account: str, as_of: str, *extra: str) -> dict:
    r = cli("advise", account, "--record", "--store", store, "--as-of", as_of, "-f", "json", "--by", "tester", *extra)
    assert r.exit_code == 0, r.stderr
    assert "kamrules: recorded review" in r.stderr
    return json.loads(r.stdout)


def fired(doc: dict) -> set[str]:
    return {f["rule"] for f in doc["findings"]}


def test_without_a_store_nothing_changes_and_no_history_fact_is_missing(tmp_path: Path) -> None:
    r = cli("advise", HUAXIN, "-f", "json")
    doc = json.loads(r.stdout)
    assert "history" not in doc and "overrides" not in doc
    assert not [m for m in doc["missing_facts"] if m.startswith(("history.", "previous."))]
    assert not [b for b in doc["blocked"] if b["rule"] in ("key-never-reviewed", "trend-health-falling")]
    assert not any(p.suffix == ".sqlite" for p in tmp_path.rglob("*"))


def test_record_history_diff_and_the_playbook_section(store_url: str) -> None:
    first = record(store_url, HUAXIN, "2026-03-31")
    assert "key-never-reviewed" in fired(first)  # a key account with nothing on record yet
    second = record(store_url, HUAXIN, "2026-06-30")
    assert "key-never-reviewed" not in fired(second)
    assert second["history"]["previous"]["as_of"] == "2026-03-31"
    import jsonschema

    jsonschema.validate(second, SCHEMA)
    assert second["score_parts"]["health"] and sum(p["points"] for p in second["score_parts"]["health"]) >= 0
    ch = second["history"]["changes"]
    assert ch["same_rulebook"] and ch["by_rulebook"] is None
    assert {w["rule"] for w in ch["by_facts"]["resolved_warnings"]} == {"key-never-reviewed"}
    # the playbook says it, in both languages and both formats
    md = cli("advise", HUAXIN, "--store", store_url, "--as-of", "2026-09-30", "--lang", "en").stdout
    assert "## Since the last review" in md and "Last review: 2026-06-30" in md
    zh = cli("advise", HUAXIN, "--store", store_url, "--as-of", "2026-09-30", "-f", "html").stdout
    assert 'id="since-last"' in zh and "自上次复盘以来" in zh
    # history: one line per review, sparklines
    h = cli("history", "huaxin-steel", "--store", store_url, "--lang", "en")
    assert h.exit_code == 0 and h.stdout.count("2026-0") == 2 and "Health" in h.stdout
    assert any(ch in h.stdout for ch in "▁▂▃▄▅▆▇█")
    j = json.loads(cli("history", "huaxin-steel", "--store", store_url, "-f", "json").stdout)
    assert [r["as_of"] for r in j["reviews"]] == ["2026-03-31", "2026-06-30"]
    assert j["reviews"][0]["recorded_by"] == "tester" and j["reviews"][0]["classification"]["final"] == "key"
    html = cli("history", "huaxin-steel", "--store", store_url, "-f", "html").stdout
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html and "<polyline" in html and "http" not in \
        html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    d = cli("diff", "huaxin-steel", "--store", store_url, "--lang", "en")
    assert d.exit_code == 0 and "Resolved [medium]: Key account never reviewed" in d.stdout
    dj = json.loads(cli("diff", "huaxin-steel", "--store", store_url, "-f", "json", "--since", "2026-04-01").stdout)
    assert dj["from"]["as_of"] == "2026-03-31" and dj["to"]["as_of"] == "2026-06-30"
    assert cli("diff", "huaxin-steel", "--store", store_url, "--since", "2026-01-01").exit_code == 2
    assert cli("history", "nobody", "--store", store_url).exit_code == 2


def test_a_corrected_review_supersedes_the_same_date(store_url: str) -> None:
    record(store_url, HUAXIN, "2026-03-31")
    record(store_url, HUAXIN, "2026-03-31")  # a correction
    third = record(store_url, HUAXIN, "2026-06-30")
    assert third["history"]["previous"]["review"] == 2
    h = cli("history", "huaxin-steel", "--store", store_url, "--lang", "en").stdout
    assert "1 earlier recording(s) of the same date superseded" in h


def test_trend_rules_fire_on_the_history(store_url: str, tmp_path: Path) -> None:
    steps = [("30M", 90, "1%", 0, "2026-01-31"), ("15M", 70, "1%", 0, "2026-03-31"),
             ("5M", 60, "1%", 2, "2026-05-31"), ("4M", 40, "9%", 3, "2026-07-31")]
    docs = []
    for n, (rev, sat, comp, deliv, as_of) in enumerate(steps, 1):
        docs.append(record(store_url, trend_account(tmp_path, n, rev, sat, comp, deliv), as_of))
    tiers = [d["classification"]["dimensions"]["tier"] for d in docs]
    health = [d["scores"]["health"] for d in docs]
    assert tiers == ["platinum", "gold", "silver", "silver"]  # the premise: two downgrades, then steady
    assert health[0] > health[1] > health[2] > health[3]  # three falls
    assert "trend-downgraded-running" not in fired(docs[1])  # one downgrade is not a trend
    assert "trend-downgraded-running" in fired(docs[2])
    assert "trend-downgraded-running" not in fired(docs[3])
    assert "trend-health-falling" not in fired(docs[2]) and "trend-health-falling" in fired(docs[3])
    msg = next(f for f in docs[3]["findings"] if f["rule"] == "trend-health-falling")["message"]
    assert "3" in msg


def test_a_high_warning_left_standing_is_escalated(store_url: str) -> None:
    a = record(store_url, HUAXIN, "2026-01-31")
    b = record(store_url, HUAXIN, "2026-03-31")
    c = record(store_url, HUAXIN, "2026-05-31")
    assert "trend-warning-unresolved" not in fired(a) | fired(b)
    assert "trend-warning-unresolved" in fired(c)


def test_replay_is_byte_identical_and_detects_tampering(store_url: str, tmp_path: Path) -> None:
    book = tmp_path / "acme.yaml"  # a company rulebook from a file, which is then edited
    book.write_text("rulebook: acme\nversion: 1.0.0\ntitle: {zh: 测试, en: Test}\nextends: [course]\n"
                    "parameters:\n  max_key_discount: {value: 12%, source: \"company:test\"}\n", encoding="utf-8")
    record(store_url, HUAXIN, "2026-03-31", "--rulebook", str(book))
    r = cli("replay", "1", "--store", store_url)
    assert r.exit_code == 0 and r.stdout.startswith("OK: review 1 (huaxin-steel")
    book.write_text(book.read_text().replace("12%", "30%"))  # today's rulebook differs
    r = cli("replay", "1", "--store", store_url)
    assert r.exit_code == 0 and "byte-identical" in r.stdout  # the stored sources are used, not the file
    r = cli("replay", "1", "--store", store_url, "--rulebook", str(book))
    assert r.exit_code == 0 and "已解决" in r.stdout  # what today's rulebook changes (in the review's language)
    j = json.loads(cli("replay", "1", "--store", store_url, "--rulebook", str(book), "-f", "json").stdout)
    assert j["status"] == "OK" and "over-concession-discount" in {
        w["rule"] for w in j["today"]["changes"]["resolved_warnings"]}
    # tamper with the recorded result: the audit says DIFFERENT
    from sqlalchemy import text

    from kamrules.history import codec

    st = open_store(store_url)
    full = st.full(1)
    doc = json.loads(full.result)
    doc["scores"]["health"] = 99
    with st.writing() as conn, conn.begin():
        conn.execute(text("UPDATE kamrules_reviews SET result = :b WHERE id = 1"),
                     {"b": codec.pack(json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":")))})
    st.close()
    r = cli("replay", "1", "--store", store_url)
    assert r.exit_code == 1 and r.stdout.startswith("DIFFERENT") and "scores" in r.stdout
    assert cli("replay", "99", "--store", store_url).exit_code == 2


def test_diff_keeps_rulebook_changes_apart_from_fact_changes(store_url: str, tmp_path: Path) -> None:
    book = tmp_path / "acme.yaml"
    book.write_text("rulebook: acme\nversion: 1.0.0\ntitle: {zh: 测试, en: Test}\nextends: [course]\n"
                    "parameters:\n  max_key_discount: {value: 30%, source: \"company:test\"}\n", encoding="utf-8")
    record(store_url, HUAXIN, "2026-03-31", "--rulebook", str(book))
    book.write_text(book.read_text().replace("30%", "12%").replace("1.0.0", "1.1.0"))
    changed = tmp_path / "huaxin.yaml"
    changed.write_text(Path(HUAXIN).read_text(encoding="utf-8").replace("satisfaction: 72", "satisfaction: 40"),
                       encoding="utf-8")
    record(store_url, str(changed), "2026-03-31" if False else "2026-06-30", "--rulebook", str(book))
    d = json.loads(cli("diff", "huaxin-steel", "--store", store_url, "-f", "json").stdout)
    assert not d["same_rulebook"] and d["separable"]
    by_book = {w["rule"] for w in d["by_rulebook"]["new_warnings"]}
    assert "over-concession-discount" in by_book  # the lower ceiling, not the facts, raised it
    assert "over-concession-discount" not in {w["rule"] for w in d["by_facts"]["new_warnings"]}
    assert [f["fact"] for f in d["facts"]] == ["satisfaction"]
    health = [s for s in d["by_facts"]["scores"] if s["score"] == "health"]
    assert health and health[0]["change"] < 0 and health[0]["rules"]  # why health moved, rule by rule
    assert not [s for s in d["by_rulebook"]["scores"] if s["score"] == "health"]
    t = cli("diff", "huaxin-steel", "--store", store_url, "--lang", "en").stdout
    assert "Changes from the rulebook:" in t and "Changes from the account's facts" in t
    assert "points:" in t


def test_overrides(store_url: str) -> None:
    today = _dt.date.today()
    until = (today + _dt.timedelta(days=60)).isoformat()
    r = cli("override", "set", "huaxin-steel", "--class", "medium", "--reason", "Exit agreed with the VP",
            "--until", until, "--by", "王经理", "--store", store_url)
    assert r.exit_code == 0, r.stderr
    r = cli("override", "set", "huaxin-steel", "--class", "small", "--reason", "x", "--until", until,
            "--store", store_url)
    assert r.exit_code == 2 and "override.exists" in r.stderr  # never silently overwritten
    r = cli("override", "set", "huaxin-steel", "--accept", "over-concession-discount", "--reason", "Board decision",
            "--until", until, "--store", store_url)
    assert r.exit_code == 0
    on = today.isoformat()
    md = cli("advise", HUAXIN, "--store", store_url, "--as-of", on, "--lang", "en").stdout
    assert "## Manager overrides" in md and "computed Key account, overridden to Medium account by 王经理" in md
    assert "⚑ overridden to Medium account by 王经理" in md  # beside the computed value in the summary
    assert "⚑ Accepted by" in md
    # an accepted warning no longer trips --fail-on
    r = cli("advise", HUAXIN, "--store", store_url, "--as-of", on, "--fail-on", "high", "-f", "json")
    doc = json.loads(r.stdout)
    highs = {f["rule"] for f in doc["findings"] if f["severity"] in ("critical", "high") and f["kind"] == "warning"}
    assert r.exit_code == (0 if highs <= {"over-concession-discount"} else 1)
    assert {o["target"] for o in doc["overrides"]} == {"final", "over-concession-discount"}
    assert doc["classification"]["final"] == "key"  # the computed value is kept
    # recorded with the review, accepted warning marked
    record(store_url, HUAXIN, on)
    st = open_store(store_url)
    s = st.summaries(["huaxin-steel"])["huaxin-steel"][-1]
    assert {f.rule for f in s.findings if f.suppressed} == {"over-concession-discount"}
    st.close()
    # lapses on its date
    later = (today + _dt.timedelta(days=61)).isoformat()
    md = cli("advise", HUAXIN, "--store", store_url, "--as-of", later, "--lang", "en").stdout
    assert "lapsed on " + until in md and "⚑ overridden" not in md
    # list, remove, replace
    lst = json.loads(cli("override", "list", "--store", store_url, "-f", "json").stdout)
    assert [o["status"] for o in lst] == ["in_force", "in_force"]
    assert cli("override", "remove", "1", "--by", "王经理", "--store", store_url).exit_code == 0
    assert cli("override", "remove", "1", "--store", store_url).exit_code == 2
    assert "no overrides" not in cli("override", "list", "huaxin-steel", "--store", store_url).stdout
    allx = json.loads(cli("override", "list", "--all", "--store", store_url, "-f", "json").stdout)
    assert allx[0]["status"] == "removed" and allx[0]["removed_by"] == "王经理"
    r = cli("override", "set", "huaxin-steel", "--accept", "over-concession-discount", "--reason", "Renewed",
            "--until", until, "--replace", "--store", store_url)
    assert r.exit_code == 0
    # bad overrides
    for args, code in ((["--class", "huge"], "override.value"), (["--accept", "no-such-rule"], "override.rule"),
                       (["--tier", "gold", "--class", "key"], "override.what")):
        r = cli("override", "set", "x", *args, "--reason", "r", "--until", until, "--store", store_url)
        assert r.exit_code == 2 and code in r.stderr
    r = cli("override", "set", "x", "--class", "key", "--reason", "r", "--until", "2020-01-01", "--store", store_url)
    assert r.exit_code == 2 and "override.until" in r.stderr


def test_portfolio_records_and_looks_back(store_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "book"
    shutil.copytree(EXAMPLES, folder)
    r = cli("portfolio", str(folder), "--record", "--store", store_url, "--as-of", "2026-01-31")
    assert r.exit_code == 0 and "recorded 12 reviews" in r.stderr
    # huaxin loses its margin (a downgrade), ruida is not key any more; dingli is dropped from the book
    hx = folder / "huaxin-steel.yaml"
    hx.write_text(hx.read_text(encoding="utf-8").replace("gross_margin: 18%", "gross_margin: 3%"), encoding="utf-8")
    (folder / "dingli-pumps.yaml").unlink()
    # valdorf writes its account plan: its high warning "no account plan" is cleared
    vd = folder / "valdorf-suzhou.yaml"
    vd.write_text(vd.read_text(encoding="utf-8").replace("account_plan: false", "account_plan: true"), encoding="utf-8")
    r = cli("portfolio", str(folder), "--record", "--store", store_url, "--as-of", "2026-06-30", "--since",
            "2026-01-31", "-f", "json", "--stale-months", "3")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    since = doc["since"]
    assert since["accounts"] == 11 and since["compared"] == 11
    tm = since["tier_migration"]
    moves = {m["account"]: m for m in tm["moves"]}
    assert moves["huaxin-steel"]["direction"] == "down" and tm["downgrades"] == len(tm["moves"]) - tm["upgrades"]
    assert sum(sum(row.values()) for row in tm["matrix"].values()) == 11
    assert since["not_reviewed"]["key_accounts"]  # the key accounts were last reviewed > 3 months before
    assert all(a["last_review"] == "2026-01-31" for a in since["not_reviewed"]["key_accounts"])
    assert since["unresolved_warnings"] and all(w["since"] == "2026-01-31" for w in since["unresolved_warnings"])
    cleared = {(w["account"], w["rule"]) for w in since["resolved_warnings"]}
    assert ("valdorf-suzhou", "management-process-no-plan") in cleared
    assert not cleared & {(w["account"], w["rule"]) for w in since["unresolved_warnings"]}
    assert all(w["severity"] in ("critical", "high") for w in since["resolved_warnings"])
    md = cli("portfolio", str(folder), "--store", store_url, "--as-of", "2026-06-30", "--since", "2026-01-31",
             "--lang", "en").stdout
    assert "## Since 2026-01-31" in md and "### Tier migration" in md and "↓ 华信钢铁" in md
    cleared_md = md.split("### Critical and high warnings cleared (there then, gone now)")[1].split("###")[0]
    assert "(`valdorf-suzhou`)" in cleared_md and "(`huaxin-steel`)" not in cleared_md
    r = cli("portfolio", str(folder), "--store", store_url, "--since", "2026-01-31", "-f", "csv")
    assert r.exit_code == 2 and "portfolio.since-csv" in r.stderr
    # overrides show in the portfolio beside the computed class
    until = (_dt.date.today() + _dt.timedelta(days=30)).isoformat()
    cli("override", "set", "ruida-valves", "--class", "medium", "--reason", "r", "--until", until,
        "--store", store_url)
    md = cli("portfolio", str(folder), "--store", store_url, "--lang", "en").stdout
    assert "⇒ Medium account ⚑" in md
    js = json.loads(cli("portfolio", str(folder), "--store", store_url, "-f", "json").stdout)
    assert next(a for a in js["accounts"] if a["id"] == "ruida-valves")["overrides"] == {"final": "medium"}


def test_since_needs_a_store(tmp_path: Path) -> None:
    r = cli("portfolio", str(EXAMPLES), "--since", "2026-01-01")
    assert r.exit_code == 2 and "portfolio.no-store" in r.stderr


def test_record_with_a_mapping_is_refused_on_advise_and_pointed_to_portfolio(tmp_path: Path) -> None:
    crm = ROOT / "examples" / "portfolio" / "crm"
    r = cli("advise", str(crm / "accounts.csv"), str(crm / "deals.xlsx"), "--mapping", str(crm / "mapping.yaml"),
            "--record", "--store", str(tmp_path / "s.sqlite"))
    assert r.exit_code == 2 and "cli.record-mapping" in r.stderr and "kamrules portfolio" in r.stderr
    assert not (tmp_path / "s.sqlite").exists()
