"""A seeded, CRM-like export: an accounts table and a deals table, with the defects real exports have.

    python benchmarks/crmexport.py --out examples/portfolio/crm                 # the shipped example
    python benchmarks/crmexport.py --out /tmp/big --accounts 100000 --deals-format csv

The example in examples/portfolio/crm/ is this script's output with the defaults (240 accounts,
seed 2026); tests/test_crm.py regenerates it and compares, so it stays reproducible. What it
writes, as a 销售易/纷享销客-style export would:

- accounts.csv: GBK-encoded (Excel's "CSV" on a Chinese Windows), Chinese headers, 注册资金
  in 万元, 是/否 and 高/中/低 columns, no margin or cost columns at all; blank lines and rows of
  empty cells, a row exported twice, an id on two different rows, a row without an id, an id
  kamrules cannot use (HX/…), and a few bad cells (员工人数 "约500").
- deals.xlsx: a workbook with two sheets — 说明 (notes) and 商机 (the deals, under a report
  title and a blank row); amounts in 万元, a few deals in USD (币种), Chinese stage names,
  real dates and dates as text; deals with no account, deals naming an account that is not in
  the accounts export, a deal exported twice, amounts "待定", won deals without a close date.

Revenue is skewed the way B2B books are (a few accounts buy most); deals spread over the two
years before 2026-06-30 and open deals into the months after.
"""
from __future__ import annotations

import argparse
import csv
import datetime as _dt
import io
import math
import random
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

AS_OF = _dt.date(2026, 6, 30)
PREFIX = list("华恒鼎宏金瑞启星联和远东海天永中新明泰安顺达盛德信嘉鑫诚同富隆康佳")
MIDDLE = ["兴", "通", "源", "丰", "利", "成", "昌", "发", "茂", "邦", "威", "力", "能", "科", "润", "晟"]
TRADES = [("钢铁", "钢铁"), ("石化", "石化"), ("电气", "电气设备"), ("泵业", "通用机械"), ("机械", "通用机械"),
          ("化工", "化工"), ("自动化", "工业自动化"), ("电力", "电力"), ("阀门", "通用机械"), ("紧固件", "五金"),
          ("物流", "物流"), ("医药", "医药"), ("食品", "食品饮料"), ("纺织", "纺织"), ("汽车零部件", "汽车"),
          ("电子", "电子制造"), ("新材料", "新材料"), ("环保", "环保")]
REGIONS = ["华东", "华南", "华北", "华中", "西南", "西北", "东北"]
MANAGERS = ["李明", "王芳", "张伟", "刘洋", "陈静", "杨帆", "赵磊", "黄婷", "周杰", "吴敏", "徐强", "孙丽"]
OPEN_STAGES = [("初步接洽", 0.35), ("需求确认", 0.25), ("方案报价", 0.22), ("商务谈判", 0.18)]
PRODUCTS = ["年度框架协议", "设备采购", "备件补货", "技改项目", "二期扩产", "运维服务", "试点订单", "集中采购",
            "产线升级", "替代进口", "年度续约", "新品导入"]
ACCOUNT_HEADERS = ["客户编号", "客户名称", "所属行业", "所属区域", "负责人", "客户级别", "员工人数", "注册资金(万元)",
                   "是否上市", "战略契合度", "电话", "创建时间"]
DEAL_HEADERS = ["商机编号", "商机名称", "客户编号", "客户名称", "商机金额(万元)", "币种", "销售阶段", "预计成交日期",
                "赢率", "负责人", "创建时间", "最后跟进时间"]
USD_RATE = 7.1  # what the shipped mapping's rates say


@dataclass
class Account:
    id: str
    name: str
    industry: str
    region: str
    manager: str
    size: float  # yearly spend with us, 元
    growth: float
    row: list[str] = field(default_factory=list)


def _names(rng: random.Random, n: int) -> list[tuple[str, str]]:
    seen: set[str] = set()
    out = []
    many = n > len(PREFIX) * len(MIDDLE) * len(TRADES) // 2  # too few names to draw without repeats
    while len(out) < n:
        trade, industry = rng.choice(TRADES)
        name = rng.choice(PREFIX) + rng.choice(MIDDLE) + trade
        if name in seen:
            if not many:
                continue
            name += str(len(out) + 1)  # 华兴钢铁1234: large books (benchmarks/portfolio.py) repeat names
        seen.add(name)
        out.append((name, industry))
    return out


def accounts(rng: random.Random, n: int) -> list[Account]:
    out = []
    for i, (name, industry) in enumerate(_names(rng, n), 1):
        # a heavy tail: most accounts buy little, a few buy most (lognormal, σ 1.35)
        size = 10 ** 4 * math.exp(rng.gauss(math.log(180), 1.35))
        out.append(Account(f"KH-{i:04d}", name, industry, rng.choice(REGIONS), rng.choice(MANAGERS), size,
                           rng.uniform(-0.35, 0.45)))
    return out


def _date(d: _dt.date, rng: random.Random) -> object:
    """Mostly real dates; some as the text a CRM's export writes."""
    r = rng.random()
    if r < 0.08:
        return f"{d.year}/{d.month}/{d.day}"
    if r < 0.14:
        return f"{d.isoformat()} {rng.randint(8, 19):02d}:{rng.randint(0, 59):02d}:00"
    return d


def deals(rng: random.Random, accs: list[Account]) -> list[list[object]]:
    rows: list[list[object]] = []
    n = 0

    def add(acc: Account | None, acc_id: str, amount: object, stage: str, close: _dt.date | None,
            last: _dt.date | None, prob: str, currency: str = "CNY") -> None:
        nonlocal n
        n += 1
        created = (close or AS_OF) - _dt.timedelta(days=rng.randint(20, 240))
        rows.append([f"SJ-{n:05d}", f"{acc.name if acc else '未知客户'}{rng.choice(PRODUCTS)}", acc_id,
                     acc.name if acc else "", amount, currency, stage,
                     _date(close, rng) if close else None, prob, acc.manager if acc else rng.choice(MANAGERS),
                     _date(created, rng), _date(last, rng) if last else None])

    def wan(x: float, currency: str = "CNY") -> float:
        return round(x / 10 ** 4 / (USD_RATE if currency == "USD" else 1), 2)

    for acc in accs:
        if rng.random() < 0.04:
            continue  # a new account: no deals yet
        for year, factor in ((0, 1.0), (1, 1 / (1 + acc.growth))):
            spend = acc.size * factor
            orders = max(1, min(60, int(rng.gauss(2 + spend / 4e5, 1.5))))
            weights = [rng.paretovariate(1.6) for _ in range(orders)]
            for w in weights:
                amount = spend * w / sum(weights)
                close = AS_OF - _dt.timedelta(days=365 * year + rng.randint(0, 364))
                currency = "USD" if rng.random() < 0.03 else "CNY"
                add(acc, acc.id, wan(amount, currency), "赢单", close, close, "100%", currency)
            for _ in range(int(orders * rng.uniform(0.2, 0.9))):
                close = AS_OF - _dt.timedelta(days=365 * year + rng.randint(0, 364))
                add(acc, acc.id, wan(spend / orders * rng.uniform(0.5, 2.0)), "输单", close, close, "0%")
        for _ in range(rng.choice([0, 0, 1, 1, 2, 3, 4])):
            stage = rng.choices([s for s, _ in OPEN_STAGES], [w for _, w in OPEN_STAGES])[0]
            close = AS_OF + _dt.timedelta(days=rng.randint(10, 200))
            stale = rng.random() < 0.25
            last = AS_OF - _dt.timedelta(days=rng.randint(95, 300) if stale else rng.randint(0, 40))
            prob = {"初步接洽": "10%", "需求确认": "30%", "方案报价": "50%", "商务谈判": "70%"}[stage]
            add(acc, acc.id, wan(acc.size / 3 * rng.uniform(0.3, 2.5)), stage, close, last, prob)
    rng.shuffle(rows)
    # the defects of a real export
    for r in rng.sample(rows, 30):
        r[2] = ""  # no account: deals on a lead, or never linked
        r[3] = ""
    for r in rng.sample(rows, 12):
        r[2] = re.sub(r"KH-(\d{4})", lambda m: f"KH-{int(m[1]) + 5000:04d}", str(r[2])) or "KH-9999"
    for r in rng.sample(rows, 4):
        r[4] = "待定"  # amount not agreed yet
    won = [r for r in rows if r[6] == "赢单"]
    for r in rng.sample(won, 3):
        r[7] = None  # won, but nobody filled in the close date
    for r in rng.sample(rows, 5):
        rows.insert(rows.index(r) + rng.randint(1, 40), list(r))  # exported twice
    return rows


def account_rows(rng: random.Random, accs: list[Account]) -> list[list[str]]:
    rows = []
    for a in accs:
        level = "A" if a.size > 8e6 else "B" if a.size > 1.5e6 else "C"
        employees = str(int(a.size / 1e4 * rng.uniform(0.5, 4)) + 20)
        capital = f"{round(a.size / 1e4 * rng.uniform(0.3, 3)):d}"
        listed = "是" if rng.random() < (0.5 if a.size > 5e6 else 0.1) else "否"
        fit = rng.choices(["高", "中", "低", ""], [0.25, 0.4, 0.25, 0.1])[0]
        phone = f"0{rng.randint(10, 99)}-{rng.randint(10000000, 99999999)}"
        created = (AS_OF - _dt.timedelta(days=rng.randint(60, 3000))).strftime("%Y/%m/%d")
        a.row = [a.id, a.name, a.industry, a.region, a.manager, level, employees, capital, listed, fit, phone, created]
        rows.append(a.row)
    # the defects of a real export
    for r in rng.sample(rows, 4):
        r[6] = rng.choice(["约500", "500+", "不详", "1千人左右"])  # free text in a number column
    rows[7][0] = rows[7][0].replace("-", "/")  # an id kamrules cannot use (it names output files)
    rows.insert(20, list(rows[19]))  # exported twice
    rows.insert(60, list(rows[42]))
    twin = list(rows[90])
    twin[4] = rng.choice([m for m in MANAGERS if m != twin[4]])  # the same id, another owner
    rows.insert(120, twin)
    rows.insert(150, ["", "待定客户", "", "华东", "李明", "C", "", "", "", "", "", ""])  # no id
    return rows


def write_accounts(path: Path, rows: list[list[str]]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(ACCOUNT_HEADERS)
    for i, r in enumerate(rows):
        w.writerow(r)
        if i in (33, 170):
            buf.write("\r\n")  # a blank line
    buf.write("," * (len(ACCOUNT_HEADERS) - 1) + "\r\n")  # the empty rows Excel leaves under a table
    buf.write("," * (len(ACCOUNT_HEADERS) - 1) + "\r\n")
    path.write_bytes(buf.getvalue().encode("gbk"))


def write_deals_xlsx(path: Path, rows: list[list[object]]) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    notes = wb.active
    notes.title = "说明"
    for line in ("本工作簿由 CRM 导出。", "商机数据见工作表“商机”。", "金额单位：万元；币种见“币种”列。"):
        notes.append([line])
    ws = wb.create_sheet("商机")
    ws.append(["商机列表（导出时间 2026-06-30 18:00）"])
    ws.append([])
    ws.append(DEAL_HEADERS)
    for r in rows:
        ws.append(r)
    for row in ws.iter_rows(min_row=4):
        for c in row:
            if isinstance(c.value, _dt.date):
                c.number_format = "yyyy-mm-dd"
    fixed = _dt.datetime(2026, 6, 30, 18, 0, 0)
    wb.properties.created = wb.properties.modified = fixed
    wb.save(path)
    _pin_zip(path, fixed)


def _pin_zip(path: Path, when: _dt.datetime) -> None:
    """The same bytes on every run: fixed entry times and document dates."""
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    with zipfile.ZipFile(path) as z:
        entries = [(i.filename, z.read(i.filename)) for i in z.infolist()]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            if name == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", lambda m: m[1] + stamp.encode(), data)
            info = zipfile.ZipInfo(name, date_time=when.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)
    path.write_bytes(buf.getvalue())


def write_deals_csv(path: Path, rows: list[list[object]]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(DEAL_HEADERS)
    for r in rows:
        w.writerow(["" if v is None else v.isoformat() if isinstance(v, _dt.date) else v for v in r])
    path.write_text(buf.getvalue(), encoding="utf-8-sig")


def generate(out: Path, *, n_accounts: int = 240, seed: int = 2026, deals_format: str = "xlsx") -> list[Path]:
    rng = random.Random(seed)
    accs = accounts(rng, n_accounts)
    acc_rows = account_rows(rng, accs)
    deal_rows = deals(rng, accs)
    for r in deal_rows:  # deals of the account whose id the export mangled name it the same way
        if r[2] == accs[7].id:
            r[2] = accs[7].row[0]
    out.mkdir(parents=True, exist_ok=True)
    files = [out / "accounts.csv", out / f"deals.{deals_format}"]
    write_accounts(files[0], acc_rows)
    (write_deals_xlsx if deals_format == "xlsx" else write_deals_csv)(files[1], deal_rows)
    return files


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="examples/portfolio/crm", help="folder to write into")
    ap.add_argument("--accounts", type=int, default=240)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--deals-format", choices=["xlsx", "csv"], default="xlsx")
    args = ap.parse_args()
    for p in generate(Path(args.out), n_accounts=args.accounts, seed=args.seed, deals_format=args.deals_format):
        print(f"wrote {p}")


if __name__ == "__main__":
    main()
