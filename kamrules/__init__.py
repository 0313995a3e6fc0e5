"""kamrules: the 大客户攻略营销 course as testable rulebooks, evaluated on durable_rules."""
from __future__ import annotations

__version__ = "0.1.0"
