"""Watch rules: YAML files -> validated, frozen Rule objects."""

from monitor.rules.loader import RuleSet, load_rule_set, load_rules, parse_rule

__all__ = ["RuleSet", "load_rule_set", "load_rules", "parse_rule"]
