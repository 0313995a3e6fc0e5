"""Rule tests: `*.test.yaml` files that pin what a rulebook concludes for given facts.

A test file names its rulebook and lists cases; each case gives facts (inline, from an
account file, or both) and expects classifications, rules that fire or not, concepts with a
finding, and score ranges (format: docs/rulebook-language.md, "Rule tests"). Every case runs
on every available engine and fails when they disagree, so the rule tests double as the
oracle check of the durable_rules backend against the reference evaluator.

Three kinds of outcome, as in OPA and pytest: PASS, FAIL (an expectation or the engines'
agreement did not hold: exit 1), ERROR (the test cannot run: a malformed test file, facts that
do not validate, a rulebook that does not load: exit 2). Facts go through the same account
validation as `advise`, with every problem pointing into the test file (or the account file a
case reads).

The pieces, in the order a run goes through them (the runner and the reporters are kept apart,
as in OPA, so a new output format touches only `report`):

- `records`  what a test file says and what a run found: frozen records, and the coverage tally
- `reader`   finding test files, reading and validating one, and the facts of each case
- `runner`   running cases on every engine, comparing the engines, checking expectations
- `report`   the pretty (terminal) and JSON reports of a run
"""
