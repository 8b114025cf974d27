"""Specs: YAML experiment descriptions, their loading with line numbers, and validation."""

from ganforge.spec.loader import Spec, apply_overrides, load_spec, parse_spec

__all__ = ["Spec", "apply_overrides", "load_spec", "parse_spec"]
