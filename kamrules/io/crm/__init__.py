"""CRM exports as they are: accounts and deals tables (CSV, Excel .xlsx, JSON Lines) described by
a mapping file (docs/crm-mapping.md), joined and aggregated into the accounts the rulebook reads,
with every input row accounted for."""
