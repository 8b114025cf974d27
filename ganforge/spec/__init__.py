"""Specs: YAML experiment descriptions, their loading with line numbers, validation, and
building one component from a spec fragment."""

from ganforge.spec.build import build_component
from ganforge.spec.loader import Spec, apply_overrides, load_spec, parse_spec

__all__ = ["Spec", "apply_overrides", "build_component", "load_spec", "parse_spec"]
