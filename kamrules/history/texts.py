"""Every word the history stage shows, in zh and en."""
from __future__ import annotations

from typing import Any

UI: dict[str, dict[str, str]] = {
    "since_title": {"zh": "自上次复盘以来", "en": "Since the last review"},
    "since_intro": {"zh": "上次复盘：{as_of}（第 {review} 号记录，{by} 记录）。",
                    "en": "Last review: {as_of} (record {review}, recorded by {by})."},
    "rulebook_changed": {"zh": "两次复盘用的规则库不同（{old} → {new}）：下面把规则库变化带来的改变和客户数据变化带来的改变分开列出。",
                         "en": "The two reviews used different rulebooks ({old} → {new}): changes the rulebook made are "
                               "listed apart from changes the account's facts made."},
    "not_separable": {"zh": "规则库已变化，且无法用新规则库重新评估上次的数据：下列改变可能来自两者。",
                      "en": "The rulebook changed and the last review's facts could not be evaluated with the new one: "
                            "the changes below may come from either."},
    "by_facts": {"zh": "客户数据（及评估日期）变化带来的改变", "en": "Changes from the account's facts (and the evaluation date)"},
    "by_rulebook": {"zh": "规则库变化带来的改变", "en": "Changes from the rulebook"},
    "mixed": {"zh": "改变（来源无法区分）", "en": "Changes (source cannot be told apart)"},
    "no_change": {"zh": "没有改变。", "en": "Nothing changed."},
    "dim_change": {"zh": "{label}：{old} → {new}", "en": "{label}: {old} → {new}"},
    "score_change": {"zh": "{label}：{old} → {new}（{change}）", "en": "{label}: {old} → {new} ({change})"},
    "rule_points": {"zh": "{points} 分：{title}（{old} → {new}）", "en": "{points} points: {title} ({old} → {new})"},
    "new_warning": {"zh": "新预警 [{severity}]：{title}", "en": "New warning [{severity}]: {title}"},
    "resolved_warning": {"zh": "已解决 [{severity}]：{title}", "en": "Resolved [{severity}]: {title}"},
    "severity_changed": {"zh": "预警级别改变：{title}（{old} → {new}）", "en": "Severity changed: {title} ({old} → {new})"},
    "facts_changed": {"zh": "变化的数据：", "en": "Facts that changed: "},
    "fact_change": {"zh": "{label} {old} → {new}", "en": "{label} {old} → {new}"},
    "none": {"zh": "无", "en": "none"},
    "overrides_title": {"zh": "经理覆盖", "en": "Manager overrides"},
    "override_dim": {"zh": "{label}：计算结果为{computed}，{author} 覆盖为{value}（至 {expires}）：{reason}",
                     "en": "{label}: computed {computed}, overridden to {value} by {author} until {expires}: {reason}"},
    "override_dim_lapsed": {"zh": "{label}：{author} 的覆盖（{value}）已于 {expires} 失效，现按计算结果{computed}：{reason}",
                            "en": "{label}: the override to {value} by {author} lapsed on {expires}; the computed "
                                  "{computed} stands: {reason}"},
    "override_beside": {"zh": "经理覆盖为{value}（{author}，至 {expires}）", "en": "overridden to {value} by {author} until {expires}"},
    "override_accept": {"zh": "预警「{title}」已由 {author} 接受（至 {expires}）：{reason}",
                        "en": "Warning '{title}' accepted by {author} until {expires}: {reason}"},
    "override_accept_lapsed": {"zh": "{author} 对预警「{title}」的接受已于 {expires} 失效：{reason}",
                               "en": "{author}'s acceptance of the warning '{title}' lapsed on {expires}: {reason}"},
    "accepted_beside": {"zh": "已由 {author} 接受（至 {expires}）：{reason}", "en": "Accepted by {author} until {expires}: {reason}"},
    "not_classified": {"zh": "未分类", "en": "not classified"},
}


def ui(key: str, lang: str, **kw: Any) -> str:
    text = UI[key][lang]
    return text.format(**kw) if kw else text
