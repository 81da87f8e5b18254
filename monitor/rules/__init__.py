"""Watch rules: YAML files -> validated, frozen Rule objects."""

from monitor.rules.loader import load_rules, parse_rule

__all__ = ["load_rules", "parse_rule"]
