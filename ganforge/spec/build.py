"""Building one component from a spec fragment: the one way every caller (the experiment
builder, the CLI, metrics, plugins) turns ``{name: ..., params...}`` into a live object.

:func:`build_component` validates the fragment exactly as a spec is validated (unknown keys
with "did you mean", types, missing required parameters, nested components typed by
interface hints; all problems at once, located by file and line when the fragment comes from
a loaded :class:`~ganforge.spec.Spec`), then :func:`construct` builds it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from ganforge.errors import GanforgeError, describe_component
from ganforge.spec.loader import Key, Spec
from ganforge.spec.resolve import SpecErrors, _Resolver
from ganforge.spec.schema import reserved_of
from ganforge.spec.signature import signature_of
from ganforge.spec.types import nested_kind

if TYPE_CHECKING:
    from ganforge.registry import ComponentInfo, Registry

#: Called with (role, registry entry) for each component :func:`construct` builds, nested ones included.
Record = Callable[[str, "ComponentInfo"], None]


def build_component(registry: Registry, kind: str, fragment: Any, *, spec: Spec | None = None, key: Key = (), **injected: Any) -> Any:
    """Validate ``fragment`` (a registered name, or ``{name: ..., params...}`` as in a spec)
    as a ``kind`` and build it; raises :class:`~ganforge.spec.resolve.SpecErrors` listing
    every problem.

    Args:
        registry: where names (and aliases) are looked up.
        kind: the component kind, e.g. ``"discriminator"``.
        fragment: the component's entry, e.g. ``{"name": "dcgan", "width": 32}``.
        spec: the loaded spec ``fragment`` comes from, so errors name its file and line;
            ``None`` for fragments made in code or on the command line.
        key: where ``fragment`` sits in ``spec`` (e.g. ``("discriminator", "inner")``); the
            dotted field errors name. Reserved keys of that section (``data.batch_size``,
            ``metrics[i].every``) are skipped as the spec resolver skips them.
        injected: values passed to every constructor, nested ones included, that takes a
            parameter of that name the fragment leaves out (``image_shape=(1, 28, 28)``);
            such parameters are not reported missing.

    Returns:
        The built component.
    """
    spec = spec if spec is not None else Spec({})
    resolver = _Resolver(spec, registry, injected=injected)
    entry = resolver.component(kind, fragment, key, reserved_keys(key))
    if resolver.errors:
        raise SpecErrors(resolver.errors)
    return construct(registry, kind, entry, spec=spec, key=key, injected=injected)


def reserved_keys(key: Key) -> dict[str, tuple[Any, Any]]:
    """The keys the spec section at ``key`` carries for ganforge rather than the constructor
    (key -> default and type hint): ``batch_size`` for ``("data",)``, ``every`` for ``("metrics", i)``."""
    if key and all(isinstance(k, int) for k in key[1:]):
        return dict(reserved_of(str(key[0])))
    return {}


def nested_injected(
    factory: Callable[..., Any], param: str, entry: dict[str, Any], injected: dict[str, Any], spec: Spec, key: Key, owner: str
) -> dict[str, Any]:
    """What the builder injects into the component nested under ``param`` of ``factory``.

    By default the same values as into ``factory`` itself. A wrapper that changes what its
    inner component sees defines ``injected_into(param, params, injected)``, a classmethod
    returning the values for that nested component: PacGAN's wrapper scores packs of
    samples joined along the channels, so its inner discriminator is built for
    ``image_shape`` with ``pack`` times the channels. ``params`` are the wrapper's own
    validated parameters, defaults filled in. A ``ValueError`` from it is reported at ``key``.
    """
    hook = getattr(factory, "injected_into", None)
    if hook is None:
        return injected
    try:
        return dict(hook(param, {k: v for k, v in entry.items() if k != "name"}, dict(injected)))
    except ValueError as exc:
        raise spec.error(f"{owner} rejected its parameters: {exc}", key) from exc


def construct(
    registry: Registry,
    kind: str,
    entry: dict[str, Any],
    *,
    spec: Spec | None = None,
    key: Key = (),
    injected: dict[str, Any] | None = None,
    role: str | None = None,
    record: Record | None = None,
) -> Any:
    """Build an already validated ``entry`` (as :func:`build_component` or the spec resolver
    returns it): nested components first, ``injected`` values into every constructor that
    takes them, then the factory. A ``ValueError`` or ``TypeError`` from a constructor is
    reported as a :class:`~ganforge.errors.SpecError` at ``key``. ``record`` is told each
    component built, under ``role`` (default: the dotted ``key``) and ``role.param`` for nested ones.
    """
    injected = injected or {}
    spec = spec if spec is not None else Spec({})
    info = registry.get(kind, entry["name"])
    role = role or ".".join(str(k) for k in key) or kind
    if record is not None:
        record(role, info)
    signature = signature_of(info.factory)
    reserved = reserved_keys(key)
    params: dict[str, Any] = {}
    for name, value in entry.items():
        if name == "name" or name in reserved:
            continue
        param = signature.get(name)
        sub_kind = nested_kind(param.hint) if param else None
        if sub_kind and isinstance(value, dict) and "name" in value:
            inner = nested_injected(info.factory, name, entry, injected, spec, key, f"{kind} '{entry['name']}' (plugin {info.plugin})")
            value = construct(registry, sub_kind, value, spec=spec, key=key + (name,), injected=inner, role=f"{role}.{name}", record=record)
        params[name] = value
    for name, value in injected.items():
        if signature.get(name) and name not in params:
            params[name] = value
    try:
        return info.factory(**params)
    except GanforgeError:
        raise
    except Exception as exc:  # a plugin's constructor failing is reported as its failure
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__  # torch's carry C++ frames
        if isinstance(exc, (ValueError, TypeError)):
            raise spec.error(f"{kind} '{entry['name']}' (plugin {info.plugin}) rejected its parameters: {first}", key) from exc
        raise spec.error(f"{describe_component(kind, str(entry['name']), info.plugin)} failed to build: {type(exc).__name__}: {first}", key) from exc
