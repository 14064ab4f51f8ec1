"""Example domain files (YAML) shipped with the package; see docs/domain.md."""
