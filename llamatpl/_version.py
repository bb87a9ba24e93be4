"""The release of llamatpl (one place; the package, the CLI and the SARIF output read it)."""

__version__ = "0.2.0"
