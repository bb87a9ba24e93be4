"""Lint Llama 3.x chat templates: static rules over the Jinja AST, behavioural rules over probe renders.

    from llamatpl.lint import lint_paths
    for finding in lint_paths(["templates/"], select=["LL"]):
        print(finding)
"""

from .config import LintConfig, find_config
from .finding import Finding
from .catalog import all_rules, get_rule, select_rules
from .rule import Rule
from .runner import Source, lint_paths, lint_source

__all__ = ["Finding", "LintConfig", "Rule", "Source", "all_rules", "find_config", "get_rule", "lint_paths",
           "lint_source", "select_rules"]
