"""Advice → playbook text (Markdown, HTML via Jinja; JSON built directly, it is a contract).

Templates are looked up in company folders first, then the built-in `playbooks/`; a company
template can `{% extends "default:playbook.md.j2" %}` the one it replaces. Every template runs
in Jinja's sandbox with StrictUndefined, against the context documented in
docs/playbook-context.md.
"""
from __future__ import annotations

import datetime as _dt
import json
import re
from pathlib import Path
from typing import Any, Iterable, Mapping

from jinja2 import (ChoiceLoader, FileSystemBytecodeCache, FileSystemLoader, PrefixLoader, StrictUndefined,
                    TemplateError)
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from . import __version__
from .errors import InputError, Location, Problem
from .model import SEVERITIES
from .pipeline import Advice
from .reference import Context, trace
from .resolve import Finding
from .resources import playbooks_dir
from .values import format_money, format_number, format_percent, format_value

UI: dict[str, dict[str, str]] = {
    "title": {"zh": "大客户策略手册", "en": "Key-account strategy playbook"},
    "contents": {"zh": "目录", "en": "Contents"},
    "summary": {"zh": "摘要", "en": "Summary"},
    "final_class": {"zh": "客户分类", "en": "Account class"},
    "tier": {"zh": "金字塔层级", "en": "Pyramid tier"},
    "scores": {"zh": "价值评分", "en": "Value scores"},
    "key_figures": {"zh": "关键数据", "en": "Key figures"},
    "top_actions": {"zh": "最优先的三项行动", "en": "Top three actions"},
    "no_actions": {"zh": "目前没有需要立即采取的行动。", "en": "Nothing needs doing right now."},
    "why": {"zh": "为什么这样分类：三类标准", "en": "Why this class: the three standards"},
    "why_intro": {"zh": "每一类标准得出的结论，以及让相应规则成立的客户数据。",
                  "en": "What each standard concluded, and the account facts that made its rules hold."},
    "verdict": {"zh": "结论", "en": "Verdict"},
    "evidence": {"zh": "依据", "en": "Evidence"},
    "no_verdict": {"zh": "数据不足，无法判断。", "en": "Not enough data to judge."},
    "score_parts": {"zh": "得分构成", "en": "How the score adds up"},
    "points": {"zh": "分", "en": "points"},
    "standards_notes": {"zh": "标准之间的分歧", "en": "Where the standards disagree"},
    "warnings": {"zh": "预警与对策", "en": "Warnings and what to do"},
    "warnings_intro": {"zh": "按严重程度排列，每一条都附有对策。",
                       "en": "Most severe first; each one comes with what to do about it."},
    "recommendations": {"zh": "建议", "en": "Recommendations"},
    "remedy": {"zh": "对策", "en": "What to do"},
    "because": {"zh": "依据", "en": "Because"},
    "missing": {"zh": "缺少的数据", "en": "Missing data"},
    "missing_intro": {"zh": "以下分析因缺少数据未能完成；补齐这些字段即可解锁：",
                      "en": "These analyses could not be made; filling in these facts would unlock them:"},
    "no_missing": {"zh": "所有规则都有足够的数据做出判断。", "en": "Every rule had the data it needed."},
    "unlocks": {"zh": "可解锁", "en": "unlocks"},
    "field": {"zh": "字段", "en": "Field"},
    "provenance": {"zh": "建议来源", "en": "Where the advice comes from"},
    "provenance_intro": {"zh": "课程原文 = 丁兴良课程讲义中的内容；文献 = 已发表的大客户管理文献；"
                               "重构 = 课程只提到框架名称、内容依据文献重构，并非课程原话。",
                         "en": "Course deck = stated in Ding Xingliang's course deck; literature = published "
                               "key-account management practice; reconstruction = the course names the framework "
                               "but not its content, rebuilt from the literature, not the course's words."},
    "n_findings": {"zh": "{n} 条", "en": "{n} findings"},
    "n_finding": {"zh": "{n} 条", "en": "{n} finding"},
    "disabled": {"zh": "已停用的规则", "en": "Disabled rules"},
    "disabled_by": {"zh": "停用者", "en": "Disabled by"},
    "reason": {"zh": "原因", "en": "Reason"},
    "none": {"zh": "无", "en": "none"},
    "no_warnings": {"zh": "没有预警。", "en": "No warnings."},
    "as_of": {"zh": "评估日期", "en": "Evaluated as of"},
    "engine": {"zh": "推理引擎", "en": "Engine"},
    "rulebook": {"zh": "规则库", "en": "Rulebook"},
    "severity": {"zh": "严重程度", "en": "Severity"},
    "rule": {"zh": "规则", "en": "Rule"},
    "source": {"zh": "来源", "en": "Source"},
    "facts": {"zh": "客户事实", "en": "Account facts"},
    "not_classified": {"zh": "未能分类", "en": "not classified"},
    "not_scored": {"zh": "无法评分", "en": "not scored"},
    "explain": {"zh": "附录：规则解释", "en": "Appendix: rule explanations"},
    "fired": {"zh": "已触发", "en": "fired"},
    "not_fired": {"zh": "未触发", "en": "did not fire"},
    "by_concept": {"zh": "按课程模块", "en": "By course module"},
    "industry": {"zh": "行业", "en": "Industry"},
    "region": {"zh": "区域", "en": "Region"},
    "account_manager": {"zh": "客户经理", "en": "Account manager"},
    "not_given": {"zh": "未填写", "en": "not given"},
    "to_be_named": {"zh": "（待指定）", "en": " (to be named)"},
    "yes": {"zh": "是", "en": "yes"},
    "no": {"zh": "否", "en": "no"},
    "op_gt": {"zh": "高于", "en": "above"},
    "op_ge": {"zh": "不低于", "en": "at or above"},
    "op_lt": {"zh": "低于", "en": "below"},
    "op_le": {"zh": "不高于", "en": "at or below"},
    "op_ne": {"zh": "不等于", "en": "not"},
    "sep": {"zh": "：", "en": ": "},
    "lparen": {"zh": "（", "en": " ("},
    "rparen": {"zh": "）", "en": ")"},
    "list_sep": {"zh": "、", "en": ", "},
    "item_sep": {"zh": "；", "en": "; "},
    "unlocks_head": {"zh": "可解锁的分析", "en": "Would unlock"},
    "thresholds": {"zh": "参照线", "en": "Reference lines"},
    "scale_note": {"zh": "刻度：参照线位于条形中点（增长为四分之三处，中点为零增长）。",
                   "en": "Scale: the reference line sits at the middle of each bar (for growth at three quarters, "
                         "with zero growth in the middle)."},
    "count": {"zh": "{label}（{n} 条）", "en": "{label} ({n})"},
    "severity_heading": {"zh": "严重程度：{label}", "en": "Severity: {label}"},
    "days_unit": {"zh": "{n} 天", "en": "{n} days"},
    "days_ago": {"zh": "{n} 天前", "en": "{n} days ago"},
    "days_since": {"zh": "{label}距今", "en": "Days since {label}"},
    # six-step analysis
    "analysis": {"zh": "六步分析", "en": "The six-step analysis"},
    "analysis_intro": {"zh": "大客户战略营销六步分析法：行业 → 竞争 → 个性化需求 → 定制化方案 → 服务支持能力 → 客户规划。"
                             "每一步写明已知的情况和还要弄清的问题。",
                       "en": "The six steps of key-account strategic analysis: industry → competition → individual "
                             "needs → customised solution → service-support capability → account planning. Each step "
                             "shows what we know and what we still need to find out."},
    "step": {"zh": "步骤", "en": "Step"},
    "status": {"zh": "状态", "en": "Status"},
    "last_done": {"zh": "最近一次", "en": "Last done"},
    "known": {"zh": "已知情况", "en": "What we know"},
    "find_out": {"zh": "要弄清的问题", "en": "What to find out"},
    "nothing_known": {"zh": "档案中还没有这一步的数据。", "en": "Nothing on file for this step yet."},
    "status_current": {"zh": "已完成", "en": "up to date"},
    "status_stale": {"zh": "已过期", "en": "out of date"},
    "status_missing": {"zh": "未做", "en": "not done"},
    "status_untracked": {"zh": "未记录", "en": "not recorded"},
    "step_industry": {"zh": "行业分析", "en": "Industry analysis"},
    "step_competition": {"zh": "竞争分析", "en": "Competition analysis"},
    "step_needs": {"zh": "个性化需求分析", "en": "Individual needs analysis"},
    "step_solution": {"zh": "定制化方案分析", "en": "Customised solution analysis"},
    "step_service_capability": {"zh": "服务支持能力分析", "en": "Service-support capability analysis"},
    "step_planning": {"zh": "客户规划分析", "en": "Account planning analysis"},
    "ask_industry": {"zh": "行业趋势和政策、客户在产业链中的位置、它面临的经营压力，以及我们能帮上忙的地方。",
                     "en": "Trends and regulation, where the customer sits in its value chain, the business "
                           "pressures it faces, and where we can help."},
    "ask_competition": {"zh": "谁在和我们争这个客户、各自的优势和短板、客户怎么比较我们。",
                        "en": "Who competes with us for this customer, their strengths and weak spots, and how "
                              "the customer compares us."},
    "ask_needs": {"zh": "客户方每位关键人物的业务需求和个人诉求。",
                  "en": "The business needs and personal wins of each key person at the customer."},
    "ask_solution": {"zh": "针对这些需求我们能拿出的定制化方案，以及它给客户带来的价值。",
                     "en": "The tailored solution we can offer for those needs, and what it is worth to the customer."},
    "ask_service_capability": {"zh": "我们的交付、技术和服务能力能否兑现这个方案。",
                               "en": "Whether our delivery, technical and service capacity can deliver that solution."},
    "ask_planning": {"zh": "未来一到三年的客户目标、策略、资源和行动计划。",
                     "en": "Goals, strategy, resources and the action plan for the next one to three years."},
    # relationships
    "relationships": {"zh": "关系图：找对人、说对话、做对事", "en": "Relationship map: right people, right words, right actions"},
    "relationships_intro": {"zh": "客户方的关键人物、他们的采购角色和态度，以及我方由谁对接。",
                            "en": "The customer's key people, their buying roles and attitudes, and who on our side "
                                  "holds each relationship."},
    "no_contacts": {"zh": "档案中还没有客户联系人。", "en": "No customer contacts on file."},
    "roles_covered": {"zh": "采购角色覆盖", "en": "Buying roles covered"},
    "covered": {"zh": "已覆盖", "en": "covered"},
    "not_covered": {"zh": "未覆盖", "en": "not covered"},
    "gaps": {"zh": "关系缺口", "en": "Gaps"},
    "no_gaps": {"zh": "未发现关系缺口。", "en": "No gaps found."},
    "nobody": {"zh": "无人对接", "en": "nobody"},
    # service
    "service": {"zh": "服务台阶", "en": "Service step"},
    "service_intro": {"zh": "大客户服务五个台阶：每上一个台阶，竞争对手更少、价格压力更小，服务成本也更高。",
                      "en": "The five steps of key-account service: each step up means fewer rivals and less "
                            "price pressure, and a higher cost to serve."},
    "current_step": {"zh": "当前台阶", "en": "Current step"},
    "next_step": {"zh": "下一个台阶", "en": "Next step"},
    "top_step": {"zh": "已在最高台阶：守住它。", "en": "Already at the top step: hold it."},
    "step_unknown": {"zh": "档案中没有填写服务台阶。", "en": "The service step is not on file."},
    "step_n": {"zh": "第 {n} 台阶", "en": "Step {n}"},
    "ladder_1": {"zh": "合格供货", "en": "Qualified supply"},
    "ladder_2": {"zh": "满意服务", "en": "Satisfying service"},
    "ladder_3": {"zh": "专属增值服务", "en": "Dedicated value-added service"},
    "ladder_4": {"zh": "顾问式服务", "en": "Consultative service"},
    "ladder_5": {"zh": "战略伙伴", "en": "Strategic partner"},
    "cost_now": {"zh": "目前的服务成本", "en": "Cost to serve today"},
    "service_advice": {"zh": "台阶相关的判断", "en": "What the rules say about the step"},
    # management
    "management": {"zh": "管理检查：天龙八部", "en": "Management checklist: the eight parts"},
    "management_intro": {"zh": "大客户管理天龙八部（课程只给出名称，内容依据文献重构），逐项检查这个客户的团队和管理。",
                         "en": "The eight parts of key-account management (the course names them; their content "
                               "is reconstructed from the literature), checked for this account's team."},
    "part": {"zh": "管理环节", "en": "Part"},
    "mgmt_ok": {"zh": "正常", "en": "fine"},
    "mgmt_attention": {"zh": "需改进", "en": "needs attention"},
    "mgmt_unknown": {"zh": "数据不足", "en": "not enough data"},
    "mgmt_partial": {"zh": "部分未能检查", "en": "partly checked"},
    "mgmt_strategy": {"zh": "战略规划", "en": "Strategy"},
    "mgmt_tiering": {"zh": "客户分级", "en": "Selection and tiering"},
    "mgmt_organisation": {"zh": "组织架构", "en": "Organisation"},
    "mgmt_people": {"zh": "人员选拔", "en": "People"},
    "mgmt_coaching": {"zh": "培训辅导", "en": "Training and coaching"},
    "mgmt_performance": {"zh": "绩效考核", "en": "Performance measures"},
    "mgmt_incentives": {"zh": "薪酬激励", "en": "Pay and incentives"},
    "mgmt_process": {"zh": "过程与信息管理", "en": "Process and information"},
    # action plan
    "action_plan": {"zh": "行动计划", "en": "Action plan"},
    "action_plan_intro": {"zh": "负责人取自规则指定的角色，没有指定时为档案中的客户经理；完成日期按严重程度建议"
                                "（严重 2 周、高 1 个月、中 3 个月、其余 6 个月），请按实际情况调整。",
                          "en": "Owners are the role each rule names, or else the account manager on file; the dates "
                                "are suggested from the severity (critical 2 weeks, high 1 month, medium 3 months, "
                                "others 6 months): adjust them to the situation."},
    "action": {"zh": "行动", "en": "Action"},
    "owner": {"zh": "负责人", "en": "Owner"},
    "due": {"zh": "建议完成日期", "en": "Suggested by"},
    "unassigned": {"zh": "待指定", "en": "to be assigned"},
    # charts
    "scorecard": {"zh": "客户价值记分卡", "en": "Value scorecard"},
    "quadrant": {"zh": "现实价值 × 潜在价值", "en": "Current value × potential value"},
    "flight": {"zh": "飞行图", "en": "The flight image"},
    "flight_intro": {"zh": "好的大客户飞得高、飞得快、耗油少。", "en": "A good key account flies high and fast on little fuel."},
    "flight_altitude": {"zh": "飞行高度（规模）", "en": "Altitude (scale)"},
    "flight_speed": {"zh": "飞行速度（增长）", "en": "Speed (growth)"},
    "flight_fuel": {"zh": "耗油量（服务成本）", "en": "Fuel (cost to serve)"},
    "pyramid": {"zh": "客户价值金字塔", "en": "Value pyramid"},
    "this_account": {"zh": "本客户", "en": "this account"},
    "ladder": {"zh": "服务台阶", "en": "Service ladder"},
    "generated_by": {"zh": "由 kamrules {v} 生成；建议基于档案中的数据，需由客户经理结合实际判断。",
                     "en": "Made by kamrules {v}; the advice rests on the facts on file and needs the account "
                           "manager's judgement."},
}
SEVERITY_LABEL = {
    "critical": {"zh": "严重", "en": "critical"}, "high": {"zh": "高", "en": "high"},
    "medium": {"zh": "中", "en": "medium"}, "low": {"zh": "低", "en": "low"}, "info": {"zh": "提示", "en": "info"},
}
CONCEPT_FAMILY = {
    "standard": {"zh": "三类标准", "en": "The three standards"},
    "misconception": {"zh": "五大误区", "en": "The five misconceptions"},
    "law": {"zh": "一项法则", "en": "The one law"},
    "key": {"zh": "二大关键", "en": "The two keys"},
    "analysis": {"zh": "六步分析法", "en": "Six-step analysis"},
    "nine": {"zh": "九字诀（找对人、说对话、做对事）", "en": "Nine characters (right people, right words, right actions)"},
    "service": {"zh": "服务五个台阶", "en": "Five steps of service"},
    "management": {"zh": "天龙八部（大客户管理）", "en": "Eight-part management"},
    "risk": {"zh": "销售常见难题", "en": "The reps' questions (risks)"},
    "rulebook": {"zh": "规则库冲突", "en": "Rulebook conflicts"},
}
# Every concept key of DESIGN §5, for "what missing data would unlock" and the provenance table.
CONCEPT_LABEL = {
    "standard.single_indicator": {"zh": "单一指标分类", "en": "single-indicator class"},
    "standard.pyramid": {"zh": "客户价值金字塔", "en": "value pyramid"},
    "standard.scorecard": {"zh": "客户价值记分卡", "en": "value scorecard"},
    "standard.final_class": {"zh": "客户分类", "en": "account class"},
    "misconception.single_indicator": {"zh": "误区一：单一指标", "en": "misconception 1: one indicator"},
    "misconception.big_over_small": {"zh": "误区二：抓大放小", "en": "misconception 2: chasing the big"},
    "misconception.big_order": {"zh": "误区三：大单即大客户", "en": "misconception 3: one big order"},
    "misconception.volume_not_profit": {"zh": "误区四：大客户只求量", "en": "misconception 4: volume without profit"},
    "misconception.over_concession": {"zh": "误区五：优惠越多越好", "en": "misconception 5: over-concession"},
    "law.pareto": {"zh": "帕累托法则", "en": "the Pareto law"},
    "key.profit_performance": {"zh": "赢利绩效", "en": "profit performance"},
    "key.satisfied_service": {"zh": "满意服务", "en": "satisfied service"},
    "analysis.industry": {"zh": "行业分析", "en": "industry analysis"},
    "analysis.competition": {"zh": "竞争分析", "en": "competition analysis"},
    "analysis.needs": {"zh": "个性化需求分析", "en": "needs analysis"},
    "analysis.solution": {"zh": "定制化方案分析", "en": "solution analysis"},
    "analysis.service_capability": {"zh": "服务支持能力分析", "en": "service-capability analysis"},
    "analysis.planning": {"zh": "客户规划分析", "en": "account planning"},
    "nine.find_right_people": {"zh": "找对人", "en": "finding the right people"},
    "nine.say_right_things": {"zh": "说对话", "en": "saying the right things"},
    "nine.do_right_things": {"zh": "做对事", "en": "doing the right things"},
    "service.step": {"zh": "服务台阶", "en": "service step"},
    "management.strategy": {"zh": "战略规划", "en": "strategy"},
    "management.tiering": {"zh": "客户分级", "en": "tiering"},
    "management.organisation": {"zh": "组织架构", "en": "organisation"},
    "management.people": {"zh": "人员选拔", "en": "people"},
    "management.coaching": {"zh": "培训辅导", "en": "coaching"},
    "management.performance": {"zh": "绩效考核", "en": "performance measures"},
    "management.incentives": {"zh": "薪酬激励", "en": "incentives"},
    "management.process": {"zh": "过程与信息管理", "en": "process and information"},
    "risk.key_person": {"zh": "关键人依赖", "en": "key-person risk"},
    "risk.executive_access": {"zh": "高层关系", "en": "executive access"},
    "risk.momentum": {"zh": "项目势头", "en": "project momentum"},
    "risk.delivery_ownership": {"zh": "交付问题无人负责", "en": "delivery ownership"},
    "risk.procurement_leverage": {"zh": "采购压价", "en": "procurement leverage"},
    "risk.price_war": {"zh": "招标价格战", "en": "tender price war"},
    "risk.cost_to_serve": {"zh": "服务成本与利润", "en": "cost to serve vs profit"},
    "risk.concentration": {"zh": "客户集中度", "en": "concentration"},
    "risk.receivables": {"zh": "应收账款", "en": "receivables"},
    "rulebook.conflict": {"zh": "规则库冲突", "en": "rulebook conflict"},
}
SOURCE_KIND = {
    "deck": {"zh": "课程原文", "en": "course deck"},
    "lit": {"zh": "文献", "en": "literature"},
    "recon": {"zh": "重构（非课程原话）", "en": "reconstruction (not the course's words)"},
    "company": {"zh": "公司规则", "en": "company rule"},
    "kamrules": {"zh": "规则库检查", "en": "rulebook check"},
}
SOURCE_ORDER = ("deck", "lit", "recon", "company", "kamrules")

# Course structure the default playbooks walk; each part appears only when the rulebook declares
# the facts or concepts it needs, so a company rulebook without them gets a shorter playbook.
ANALYSIS_STEPS = ("industry", "competition", "needs", "solution", "service_capability", "planning")
STEP_KNOWN = {  # facts and metrics that tell what is already known for each step
    "industry": ("industry", "region", "customer_annual_sales", "growth_rate", "listed"),
    "competition": ("competition.competitors", "competition.in_tender", "competition.price_pressure",
                    "share_of_wallet"),
    "needs": ("strategic_fit", "contact_count", "roles_covered", "satisfaction"),
    "solution": ("open_opportunities", "forecast_revenue", "reference_value"),
    "service_capability": ("service_step", "delivery_issues", "delivery_issue_owner", "cost_to_serve_rate"),
    "planning": ("team.account_plan", "team.plan_reviewed", "team.account_manager", "team.executive_sponsor"),
}
MANAGEMENT_PARTS = ("strategy", "tiering", "organisation", "people", "coaching", "performance", "incentives",
                    "process")
BUYING_ROLES = ("economic_buyer", "user_buyer", "technical_buyer", "coach")  # Miller Heiman's four
RELATIONSHIP_GAP_CONCEPTS = ("risk.key_person", "risk.executive_access")
RELATIONSHIP_METRICS = ("contact_count", "roles_covered", "executive_contacts", "supporters", "opponents",
                        "new_in_role_contacts", "uncovered_contacts")
SERVICE_STEPS = 5
SUMMARY_DIMS = ("final", "tier", "scorecard", "service_level")
SUMMARY_SCORES = ("current_value", "potential_value", "health")
KEY_FIGURES = ("revenue", "revenue_growth", "gross_margin", "margin_after_cts", "margin_after_cts_rate",
               "cost_to_serve_rate", "share_of_wallet", "revenue_share", "discount_rate", "satisfaction")
QUADRANT = {"invest": "tr", "develop": "tl", "maintain": "br", "reduce_cost": "bl"}  # the 2×2 policy
DUE_DAYS = {"critical": 14, "high": 30, "medium": 90, "low": 180, "info": 180}  # suggested, see action_plan_intro
_OP_WORD = {">": "op_gt", ">=": "op_ge", "<": "op_lt", "<=": "op_le", "!=": "op_ne"}
_DAYS_SINCE = re.compile(r"^days_since\((?P<name>[\w.]+)\)$")


def source_kind(source: str) -> str:
    return source.split(":", 1)[0] if source else ""


def source_label(source: str, lang: str) -> str:
    """deck → 课程原文 / course deck; lit:Gainsight → 文献：Gainsight; recon → a reconstruction."""
    kind, _, name = source.partition(":")
    base = SOURCE_KIND.get(kind, {}).get(lang, kind)
    if name:
        return f"{base}：{name}" if lang == "zh" else f"{base}: {name}"
    return base


def _ui(key: str, lang: str, **kw: Any) -> str:
    return UI[key][lang].format(**kw) if kw else UI[key][lang]


def _lower_first(s: str) -> str:
    """'Max key-account discount' → 'max key-account discount' (not 'KAM …' or 'DSO')."""
    return s[0].lower() + s[1:] if len(s) > 1 and s[1].islower() else s


def _enum_label(advice: Advice, name: str, value: Any) -> str | None:
    book, lang = advice.book, advice.lang
    for table in (book.facts, book.dimensions, book.derived):
        d = table.get(name)
        if d is not None:
            for v, t in d.values:
                if v == value:
                    return t.get(lang) or v
    return None


def _value_text(advice: Advice, name: str, value: Any) -> str:
    book, lang = advice.book, advice.lang
    if value is None:
        return "—"
    if isinstance(value, bool):
        return _ui("yes" if value else "no", lang)
    if name in book.facts:
        f = book.facts[name]
        if f.type == "enum":
            return _enum_label(advice, name, value) or str(value)
        if f.type == "list" and f.items:
            return format_number(len(value))
        if f.type == "list":
            return ("、" if lang == "zh" else ", ").join(map(str, value))
        return format_value(value, f.type, lang)
    if name in book.metrics:
        return format_value(value, book.metrics[name].type, lang)
    if name in book.dimensions or name in book.derived:
        return _enum_label(advice, name, value) or str(value)
    if isinstance(value, float):
        return format_number(value)
    return format_value(value, "string", lang)


def _is_days(advice: Advice, name: str, days_since: bool) -> bool:
    f = advice.book.facts.get(name)
    return days_since or (f is not None and f.unit == "days")


def _evidence_value(advice: Advice, name: str, v: Any, type_: str, days: bool) -> str:
    lang = advice.lang
    if v is None:
        return "—"
    if isinstance(v, bool):
        return _ui("yes" if v else "no", lang)
    if days and isinstance(v, (int, float)):
        return _ui("days_unit", lang, n=format_number(float(v)))
    if isinstance(v, str):
        return _enum_label(advice, name, v) or v
    if isinstance(v, (int, float)):
        return format_value(v, type_ if type_ in ("money", "percent") else "number", lang)
    return str(v)


def _declared(advice: Advice, name: str) -> bool:
    book = advice.book
    return any(name in t for t in (book.facts, book.metrics, book.dimensions, book.scores, book.derived))


def _because_text(advice: Advice, b: Any) -> str:
    """One piece of evidence as a reader says it: '平均折扣率 22%，高于大客户折扣上限（15%）' /
    'Average discount 22%, above max key-account discount (15%)'. `b` is a resolve.Because or a
    reference.Literal (which also says what the threshold was: a parameter or another fact)."""
    lang = advice.lang
    m = _DAYS_SINCE.match(b.fact)
    name = m["name"] if m else b.fact
    days = _is_days(advice, name, bool(m))
    label = _label(advice, name)
    if m:
        label = _ui("days_since", lang, label=label if lang == "zh" else _lower_first(label))
    sep = "：" if lang == "zh" else ": "
    if b.op == "missing":
        return f"{label}{sep}{_ui('not_given', lang)}"
    value = _evidence_value(advice, name, b.value, b.type, days)
    if b.op in ("exists", "=="):
        return f"{label}{sep}{value}"
    against = _evidence_value(advice, name, b.against, b.type, days)
    other = getattr(b, "against_text", "")
    named = ""
    if b.param and b.param in advice.book.params:
        named = advice.book.params[b.param].label.get(lang) or b.param
    elif other and other != b.fact and _declared(advice, other):
        named = _label(advice, other)
    word = _ui(_OP_WORD[b.op], lang) if b.op in _OP_WORD else b.op
    if named:
        against = f"{named}（{against}）" if lang == "zh" else f"{_lower_first(named)} ({against})"
        return f"{label} {value}，{word}{against}" if lang == "zh" else f"{label} {value}, {word} {against}"
    return f"{label} {value}，{word} {against}" if lang == "zh" else f"{label} {value}, {word} {against}"


def _evidence(advice: Advice, rule: Any) -> list[Any]:
    """The conditions that held when the rule fired (the same literals resolve.because keeps,
    with the threshold's own name, which Because does not carry)."""
    _, lits = trace(rule.cond, Context(advice.env, advice.as_of))
    return [lit for lit in lits if lit.outcome is True]


def _label(advice: Advice, name: str) -> str:
    book, lang = advice.book, advice.lang
    for table in (book.facts, book.metrics, book.dimensions, book.scores, book.derived):
        if name in table:
            return table[name].label.get(lang) or name
    return name


def _owner_text(advice: Advice, owner: str) -> str:
    """A rule's owner is a fact (team.account_manager) resolved to a name; when the account does
    not give that fact, say which role to name instead of printing the fact's key."""
    if owner and owner in advice.book.facts and advice.env.get(owner) is None:
        return _label(advice, owner) + _ui("to_be_named", advice.lang)
    return owner


def _finding(advice: Advice, f: Finding) -> dict[str, Any]:
    lang = advice.lang
    rule = advice.book.rule(f.rule)
    lits: list[Any] = list(f.because)
    if rule is not None and rule.cond is not None:
        traced = _evidence(advice, rule)
        if len(traced) == len(lits):
            lits = traced
    return {
        "rule": f.rule, "concept": f.concept, "kind": f.kind, "severity": f.severity,
        "severity_label": SEVERITY_LABEL[f.severity][lang], "priority": f.priority, "title": f.title,
        "message": f.message, "remedy": f.remedy, "owner": _owner_text(advice, f.owner),
        "because": [{"fact": b.fact, "label": _label(advice, b.fact), "value": b.value, "op": b.op,
                     "against": b.against, "param": b.param, "text": _because_text(advice, lit)}
                    for b, lit in zip(f.because, lits)],
        "source": f.source, "source_kind": source_kind(f.source), "source_label": source_label(f.source, lang),
        "at": f.at, "rulebook": f.rulebook, "family": f.concept.split(".")[0],
        "concept_label": CONCEPT_LABEL.get(f.concept, {}).get(lang, f.concept),
    }


# ----------------------------------------------------------------------------- context parts

def _dimension(advice: Advice, d: Any) -> dict[str, Any]:
    """A classification dimension with its verdict and the evidence of the rules that gave it."""
    lang = advice.lang
    c = advice.classification[d.name]
    rules = list(dict.fromkeys(c.rules))  # one entry per rule, even if it matched twice
    evidence = []
    for rid in rules:
        r = advice.book.rule(rid)
        if r is None:
            continue
        evidence.append({"rule": rid, "title": r.title.get(lang) or rid, "source": r.source,
                         "source_kind": source_kind(r.source), "source_label": source_label(r.source, lang),
                         "because": [_because_text(advice, lit) for lit in _evidence(advice, r)]})
    return {"name": d.name, "label": d.label.get(lang) or d.name, "value": c.value,
            "value_label": d.value_label(c.value, lang) if c.value else UI["not_classified"][lang],
            "rules": rules, "hit_policy": d.hit_policy, "evidence": evidence,
            "values": [{"value": v, "label": t.get(lang) or v, "current": v == c.value} for v, t in d.values]}


def _score(advice: Advice, s: Any) -> dict[str, Any]:
    lang = advice.lang
    sc = advice.scores[s.name]
    v = sc.value
    band = None if v is None else ("red" if v <= 50 else "yellow" if v <= 75 else "green")
    parts = []
    for rid, points in sc.parts:
        r = advice.book.rule(rid)
        parts.append({"rule": rid, "points": points, "title": (r.title.get(lang) or rid) if r else rid,
                      "source_label": source_label(r.source, lang) if r else ""})
    span = (s.max - s.min) or 1.0
    band_dim = advice.book.dimensions.get(f"{s.name}_band")  # e.g. health → health_band (green/yellow/red)
    band_value = advice.classification[band_dim.name].value if band_dim is not None else None
    band_label = band_dim.value_label(band_value, lang) if band_dim is not None and band_value else ""
    return {"name": s.name, "label": s.label.get(lang) or s.name, "value": v, "min": s.min, "max": s.max, "band": band,
            "band_label": band_label,
            "text": "—" if v is None else format_number(v), "ratio": None if v is None else (v - s.min) / span,
            "parts": parts}


def _figure(advice: Advice, name: str) -> dict[str, Any] | None:
    book = advice.book
    if name not in book.facts and name not in book.metrics:
        return None
    v = advice.env.get(name)
    return {"name": name, "label": _label(advice, name), "value": v, "text": _value_text(advice, name, v)}


def _known(advice: Advice, names: Iterable[str]) -> list[dict[str, Any]]:
    out = []
    for n in names:
        fig = _figure(advice, n)
        if fig is not None and fig["value"] is not None:
            out.append(fig)
    return out


def _analysis(advice: Advice, fs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    book, lang = advice.book, advice.lang
    tracked = [k for k in ANALYSIS_STEPS if f"analyses.{k}" in book.facts]
    concepts = {r.concept for r in book.rules}
    if not tracked and not any(f"analysis.{k}" in concepts for k in ANALYSIS_STEPS):
        return []
    max_age = book.params.get("analysis_max_age_days")
    steps = []
    for i, k in enumerate(ANALYSIS_STEPS, 1):
        concept = f"analysis.{k}"
        found = [f for f in fs if f["concept"] == concept]
        date = advice.env.get(f"analyses.{k}") if k in tracked else None
        age = (advice.as_of - date).days if isinstance(date, _dt.date) else None
        if k not in tracked:
            status = "untracked"
        elif date is None:
            status = "missing"
        elif (max_age is not None and age is not None and age > max_age.value) or (max_age is None and found):
            status = "stale"
        else:
            status = "current"
        steps.append({"key": k, "n": i, "label": _ui(f"step_{k}", lang), "concept": concept,
                      "date": date.isoformat() if isinstance(date, _dt.date) else None, "age_days": age,
                      "age_text": _ui("days_ago", lang, n=format_number(age)) if age is not None else "",
                      "status": status, "status_label": _ui(f"status_{status}", lang),
                      "find_out": _ui(f"ask_{k}", lang), "known": _known(advice, STEP_KNOWN[k]),
                      "findings": found})
    return steps


def _relationships(advice: Advice, fs: list[dict[str, Any]]) -> dict[str, Any] | None:
    book, lang = advice.book, advice.lang
    if "contacts" not in book.facts:
        return None
    fields = {f.name: f for f in book.facts["contacts"].items}
    columns = [{"name": n, "label": fields[n].label.get(lang) or n} for n in
               ("name", "title", "role", "level", "support", "rating", "covered_by", "new_in_role") if n in fields]

    def cell(item: Mapping[str, Any], n: str) -> str:
        v = item.get(n)
        if v is None:
            return _ui("nobody", lang) if n == "covered_by" else ""
        if isinstance(v, bool):
            return _ui("yes", lang) if v else ""
        if n == "rating" and isinstance(v, (int, float)):
            return f"{int(v):+d}" if v else "0"
        if fields[n].type == "enum":
            return next((t.get(lang) or val for val, t in fields[n].values if val == v), str(v))
        return str(v)

    contacts = [{**{n: c.get(n) for n in fields}, "cells": [cell(c, col["name"]) for col in columns],
                 "support": c.get("support") or "", "uncovered": c.get("covered_by") is None}
                for c in advice.env.get("contacts") or ()]
    roles = []
    if "role" in fields:
        present = [c.get("role") for c in advice.env.get("contacts") or ()]
        for v, t in fields["role"].values:
            n = present.count(v)
            roles.append({"role": v, "label": t.get(lang) or v, "count": n, "covered": n > 0,
                          "required": v in BUYING_ROLES})
    gaps = [f for f in fs if f["family"] == "nine" or f["concept"] in RELATIONSHIP_GAP_CONCEPTS]
    return {"columns": columns, "contacts": contacts, "roles": roles, "gaps": gaps,
            "metrics": _known(advice, RELATIONSHIP_METRICS)}


def _service(advice: Advice, fs: list[dict[str, Any]]) -> dict[str, Any] | None:
    lang = advice.lang
    if "service_step" not in advice.book.facts:
        return None
    raw = advice.env.get("service_step")
    current = int(raw) if isinstance(raw, (int, float)) else None
    steps = [{"n": n, "label": _ui(f"ladder_{n}", lang), "step_label": _ui("step_n", lang, n=n),
              "current": n == current, "next": current is not None and n == current + 1}
             for n in range(1, SERVICE_STEPS + 1)]
    return {"step": current, "steps": steps,
            "current": steps[current - 1] if current else None,
            "next": steps[current] if current and current < SERVICE_STEPS else None,
            "cost": _known(advice, ("cost_to_serve", "cost_to_serve_rate")),
            "findings": [f for f in fs if f["concept"] == "service.step"]}


def _management(advice: Advice, fs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    lang = advice.lang
    concepts = [r.concept for r in advice.book.rules]
    if not any(c.startswith("management.") for c in concepts):
        return []
    parts = []
    for k in MANAGEMENT_PARTS:
        concept = f"management.{k}"
        found = [f for f in fs if f["concept"] == concept]
        n_rules = concepts.count(concept)
        blocked = [b for b in advice.blocked if b.concept == concept]
        if found:
            status = "attention"
        elif n_rules == 0 or len(blocked) == n_rules:
            status = "unknown"
        elif blocked:
            status = "partial"
        else:
            status = "ok"
        missing = sorted({m for b in blocked for m in b.missing if advice.env.get(m) is None})
        parts.append({"key": k, "concept": concept, "label": _ui(f"mgmt_{k}", lang), "status": status,
                      "status_label": _ui(f"mgmt_{status}", lang), "findings": found,
                      "missing": [{"fact": m, "label": _label(advice, m)} for m in missing]})
    return parts


def _action_plan(advice: Advice, fs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    lang = advice.lang
    manager = advice.env.get("team.account_manager")
    plan: list[dict[str, Any]] = []
    for f in fs:
        action = f["remedy"] or (f["message"] if f["kind"] == "recommendation" else "")
        if not action or f["kind"] == "conflict":
            continue
        owner = f["owner"] or (str(manager) if manager else _ui("unassigned", lang))
        due = advice.as_of + _dt.timedelta(days=DUE_DAYS[f["severity"]])
        plan.append({"n": len(plan) + 1, "action": action, "title": f["title"], "owner": owner,
                     "due": due.isoformat(), "severity": f["severity"], "severity_label": f["severity_label"],
                     "rule": f["rule"], "concept": f["concept"], "source_label": f["source_label"]})
    return plan


def _provenance(fs: list[dict[str, Any]], lang: str) -> list[dict[str, Any]]:
    kinds: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for f in fs:
        kinds.setdefault(f["source_kind"], {}).setdefault(f["source"], []).append(f)
    order = [k for k in SOURCE_ORDER if k in kinds] + sorted(k for k in kinds if k not in SOURCE_ORDER)
    out = []
    for k in order:
        sources: list[dict[str, Any]] = [{"source": s, "label": source_label(s, lang), "name": s.partition(":")[2], "count": len(items),
                    "findings": [{"rule": f["rule"], "title": f["title"], "kind": f["kind"]} for f in items]}
                   for s, items in sorted(kinds[k].items())]
        count = sum(s["count"] for s in sources)
        out.append({"kind": k, "label": SOURCE_KIND.get(k, {}).get(lang, k), "count": count,
                    "count_text": _ui("n_finding" if count == 1 else "n_findings", lang, n=count), "sources": sources})
    return out


def _flight(advice: Advice) -> list[dict[str, Any]]:
    """The scorecard's flight image [recon reading]: altitude = scale (revenue against the
    key-account floor), speed = growth (against the fast-growth threshold), fuel = cost to serve
    (against the low / high fuel thresholds). Ratios place a value on a 0..1 gauge."""
    env, params, lang = advice.env, advice.book.params, advice.lang

    def p(name: str) -> float | None:
        return float(params[name].value) if name in params else None

    def mark(ratio: float, name: str) -> dict[str, Any]:
        return {"ratio": round(min(max(ratio, 0.0), 1.0), 4), "label": params[name].label.get(lang) or name,
                "text": _value_text(advice, "", params[name].value) if params[name].type not in ("money", "percent")
                else format_value(params[name].value, params[name].type, lang)}

    out = []
    specs = (("altitude", "revenue"), ("speed", "revenue_growth"), ("fuel", "cost_to_serve_rate"))
    for key, metric in specs:
        fig = _figure(advice, metric)
        if fig is None:
            continue
        v = env.get(metric)
        ratio: float | None = None
        marks: list[dict[str, Any]] = []
        tone = ""
        if key == "altitude" and (ref := p("key_revenue_min")):
            marks = [mark(0.5, "key_revenue_min")]
            if v is not None:
                ratio, tone = float(v) / (2 * ref), "good" if v >= ref else "warn"
        elif key == "speed" and (ref := p("growth_fast")):
            marks = [mark(0.5 + ref / (4 * ref), "growth_fast")]
            if v is not None:
                ratio = 0.5 + float(v) / (4 * ref)
                tone = "good" if v >= ref else "warn" if v >= 0 else "bad"
        elif key == "fuel" and (high := p("fuel_high")):
            low = p("fuel_low")
            marks = ([mark(low / (2 * high), "fuel_low")] if low is not None else []) + [mark(0.5, "fuel_high")]
            if v is not None:
                ratio = float(v) / (2 * high)
                tone = "good" if low is not None and v <= low else "warn" if v <= high else "bad"
        out.append({"key": key, "label": _ui(f"flight_{key}", lang), "metric": metric,
                    "metric_label": fig["label"], "value": v, "text": fig["text"],
                    "ratio": None if ratio is None else round(min(max(ratio, 0.0), 1.0), 4),
                    "marks": marks, "tone": tone})
    return out


def _scorecard(advice: Advice, scores: Mapping[str, dict[str, Any]], dims: Mapping[str, dict[str, Any]]) \
        -> dict[str, Any] | None:
    if "current_value" not in scores or "potential_value" not in scores:
        return None
    params = advice.book.params

    def threshold(name: str) -> float | None:
        return float(params[name].value) if name in params else None

    quadrant = dims.get("scorecard")
    cells = []
    if quadrant is not None:
        cells = [{"value": v["value"], "label": v["label"], "pos": QUADRANT[v["value"]], "current": v["current"]}
                 for v in quadrant["values"] if v["value"] in QUADRANT]
    return {"current": scores["current_value"], "potential": scores["potential_value"],
            "current_high": threshold("current_value_high"), "potential_high": threshold("potential_value_high"),
            "quadrant": quadrant, "cells": cells, "flight": _flight(advice)}


def _pyramid(dims: Mapping[str, dict[str, Any]]) -> dict[str, Any] | None:
    tier = dims.get("tier")
    if tier is None:
        return None
    return {"label": tier["label"], "levels": tier["values"], "current": tier["value"],
            "current_label": tier["value_label"]}


def _missing(advice: Advice) -> list[dict[str, Any]]:
    lang = advice.lang
    missing: dict[str, set[str]] = {}
    for b in advice.blocked:
        for m in b.missing:
            if advice.env.get(m) is None:  # a metric's inputs are listed even when some are given
                missing.setdefault(m, set()).add(b.concept)
    out = []
    for m, cs in sorted(missing.items()):
        concepts = sorted(cs)
        labels = list(dict.fromkeys(CONCEPT_LABEL.get(c, {}).get(lang, c) for c in concepts))
        out.append({"fact": m, "label": _label(advice, m), "unlocks": concepts, "unlock_labels": labels})
    return out


def context(advice: Advice, *, explain: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The documented template context (docs/playbook-context.md)."""
    book, lang = advice.book, advice.lang
    dims = [_dimension(advice, d) for d in book.dimensions.values()]
    by_dim = {d["name"]: d for d in dims}
    scores = [_score(advice, s) for s in book.scores.values()]
    by_score = {s["name"]: s for s in scores}
    fs = [_finding(advice, f) for f in advice.findings]
    warnings = [f for f in fs if f["kind"] in ("warning", "conflict")]
    recs = [f for f in fs if f["kind"] == "recommendation"]
    plan = _action_plan(advice, fs)
    families: dict[str, list[dict[str, Any]]] = {}
    for f in fs:
        families.setdefault(f["family"], []).append(f)
    facts = []
    for name, fd in book.facts.items():
        if name in advice.facts.env and fd.type != "list":
            facts.append({"name": name, "label": fd.label.get(lang) or name, "group": fd.group,
                          "value": advice.facts.env[name], "text": _value_text(advice, name, advice.facts.env[name])})
    summary_dims = [by_dim[n] for n in SUMMARY_DIMS if n in by_dim] or dims
    summary_scores = [by_score[n] for n in SUMMARY_SCORES if n in by_score] or scores
    provenance = _provenance(fs, lang)
    manager = advice.env.get("team.account_manager")
    return {
        "kamrules": __version__, "lang": lang, "as_of": advice.as_of.isoformat(), "engine": advice.engine,
        "ui": {k: v[lang] for k, v in UI.items()},
        "account": {"id": advice.account.id, "name": advice.account.name,
                    "industry": _value_text(advice, "industry", advice.env["industry"])
                    if advice.env.get("industry") is not None else "",
                    "region": str(advice.env.get("region") or ""),
                    "account_manager": str(manager) if manager else ""},
        "rulebook": {"id": book.id, "version": book.version, "digest": book.digest, "title": book.title.get(lang),
                     "chain": list(book.chain)},
        "dimensions": dims, "classification": by_dim,
        "final": by_dim.get("final"), "tier": by_dim.get("tier"),
        "scores": scores, "score": by_score,
        "summary": {"dimensions": summary_dims, "scores": summary_scores,
                    "figures": _known(advice, KEY_FIGURES), "actions": plan[:3]},
        "standards_notes": [f for f in fs if f["concept"] == "misconception.single_indicator"],
        "findings": fs, "warnings": warnings, "recommendations": recs,
        "top_actions": [f for f in fs if f["remedy"] and f["kind"] != "conflict"][:3],
        "warnings_by_severity": [{"severity": s, "label": SEVERITY_LABEL[s][lang],
                                  "findings": [f for f in warnings if f["severity"] == s]}
                                 for s in SEVERITIES if any(f["severity"] == s for f in warnings)],
        "families": [{"key": k, "label": CONCEPT_FAMILY.get(k, {}).get(lang, k), "findings": families[k]}
                     for k in CONCEPT_FAMILY if k in families],
        "analysis": _analysis(advice, fs),
        "relationships": _relationships(advice, fs),
        "service": _service(advice, fs),
        "management": _management(advice, fs),
        "action_plan": plan,
        "scorecard": _scorecard(advice, by_score, by_dim),
        "pyramid": _pyramid(by_dim),
        "facts": facts,
        "missing": _missing(advice),
        "disabled": [{"rule": d.rule, "reason": d.reason, "by": d.origin.rulebook} for d in book.disabled],
        "provenance": provenance,
        "explain": explain or [],
        "severities": list(SEVERITIES),
        "generated_by": _ui("generated_by", lang, v=__version__),
    }


def environment(template_dirs: Iterable[str] = ()) -> ImmutableSandboxedEnvironment:
    default = FileSystemLoader(str(playbooks_dir()))
    loaders: list[Any] = [FileSystemLoader(d) for d in template_dirs if Path(d).is_dir()]
    loader = ChoiceLoader([PrefixLoader({"default": default}, delimiter=":"), *loaders, default])
    from . import cache

    jdir = cache.jinja_dir()  # compiled templates, validated by their source's checksum
    env = ImmutableSandboxedEnvironment(loader=loader, undefined=StrictUndefined, autoescape=False,
                                        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                                        bytecode_cache=FileSystemBytecodeCache(jdir) if jdir else None)
    env.filters["pct"] = lambda x: "—" if x is None else format_percent(float(x))
    env.filters["num"] = lambda x: "—" if x is None else format_number(float(x))
    return env


def render_text(advice: Advice, fmt: str, *, explain: list[dict[str, Any]] | None = None) -> str:
    env = environment(advice.book.templates)
    if fmt == "html":
        env.autoescape = True
    ctx = context(advice, explain=explain)
    env.filters["money"] = lambda x: "—" if x is None else format_money(float(x), advice.lang)
    name = f"playbook.{fmt}.j2"
    try:
        return env.get_template(name).render(ctx)
    except SecurityError as e:
        raise _template_problem(e, name, "template.unsafe", "the template tried something the sandbox forbids",
                                "templates may read the documented context only (docs/playbook-context.md)") from None
    except TemplateError as e:
        raise _template_problem(e, name, "template.error", f"the template failed: {e.message or e}",
                                "check the variable names against docs/playbook-context.md") from None


def _template_problem(e: Exception, name: str, code: str, message: str, hint: str) -> InputError:
    tb = e.__traceback__
    file, line = getattr(e, "filename", None) or name, getattr(e, "lineno", 0) or 0
    while tb is not None:  # the innermost frame that belongs to a template names file and line
        if tb.tb_frame.f_code.co_filename.endswith(".j2"):
            file, line = tb.tb_frame.f_code.co_filename, tb.tb_lineno
        tb = tb.tb_next
    return InputError([Problem(code, f"{message}: {e}" if code == "template.unsafe" else message,
                               Location(str(file), int(line)), hint=hint)])


def to_json(advice: Advice, *, explain: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    book = advice.book
    cls = advice.classification

    def std(dim: str) -> str | None:
        return cls[dim].value if dim in cls else None

    out: dict[str, Any] = {
        "kamrules": __version__,
        "account": {"id": advice.account.id, "name": advice.account.name},
        "rulebook": {"id": book.id, "version": book.version, "digest": book.digest},
        "engine": advice.engine,
        "as_of": advice.as_of.isoformat(),
        "lang": advice.lang,
        "classification": {
            "final": std("final"),
            "by_standard": {k: std(k) for k in ("single_indicator", "pyramid", "scorecard") if k in cls}
            | ({"pyramid": std("tier")} if "tier" in cls and "pyramid" not in cls else {}),
            "dimensions": {d: c.value for d, c in cls.items()},
        },
        "scores": {s: sc.value for s, sc in advice.scores.items()},
        "findings": [
            {"rule": f.rule, "concept": f.concept, "kind": f.kind, "severity": f.severity, "priority": f.priority,
             "title": f.title, "message": f.message, "remedy": f.remedy,
             "because": [{"fact": b.fact, "value": b.value, "op": b.op, "against": b.against,
                          **({"param": b.param} if b.param else {})} for b in f.because],
             "source": f.source, "at": f.at}
            for f in advice.findings
        ],
        "missing_facts": sorted({m for b in advice.blocked for m in b.missing}),
        "blocked": [{"rule": b.rule, "concept": b.concept, "missing": list(b.missing)} for b in advice.blocked],
        "disabled": [{"rule": d.rule, "reason": d.reason, "by": d.origin.rulebook} for d in book.disabled],
    }
    if explain is not None:
        out["explain"] = explain
    return out


def render(advice: Advice, fmt: str, *, explain: list[dict[str, Any]] | None = None) -> str:
    if fmt == "json":
        return json.dumps(to_json(advice, explain=explain), ensure_ascii=False, indent=2, default=str) + "\n"
    return render_text(advice, fmt, explain=explain)
