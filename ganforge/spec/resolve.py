"""Validating a spec against the registry and the constructors' signatures, filling defaults.

Every problem is found before anything is built, and all of them are reported at once,
one line each, with the spec file, line and field.
"""

from __future__ import annotations

import inspect
import re
from typing import Any, Iterable, Mapping, Sequence

import torch

from ganforge.errors import GanforgeError, SpecError, describe_component, did_you_mean
from ganforge.interfaces.loss import trained_networks
from ganforge.interfaces.metric import Metric, MetricSubject
from ganforge.interfaces.networks import declared
from ganforge.registry import ComponentInfo, Registry
from ganforge.spec.loader import Key, Spec
from ganforge.spec.optimizers import build_schedule, probe_optimizer
from ganforge.spec.schema import SCHEMA, Section, section_names
from ganforge.spec.signature import INJECTED, Signature, signature_of
from ganforge.spec.types import nested_kind, type_error

DEFAULT_OPTIMIZER: dict[str, Any] = {"name": "Adam", "lr": 2.0e-4, "betas": [0.5, 0.999]}
#: optimizer keys for ganforge: a torch.optim.lr_scheduler and a linear warm-up in steps.
OPTIMIZER_RESERVED = ("schedule", "warmup")
_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_EVERY = re.compile(r"^\s*(\d+)\s*epochs?\s*$|^\s*epoch\s*$")


class SpecErrors(GanforgeError):
    """Several spec problems; printed one per line."""

    def __init__(self, errors: list[SpecError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


def resolve(spec: Spec, registry: Registry) -> dict[str, Any]:
    """The spec's data validated, with every default filled in; raises :class:`SpecErrors`."""
    return _Resolver(spec, registry).run()


class _Resolver:
    def __init__(self, spec: Spec, registry: Registry, injected: Iterable[str] = ()) -> None:
        self.spec = spec
        self.registry = registry
        self.errors: list[SpecError] = []
        #: parameters the builder fills in when the spec leaves them out (never "missing").
        self.injected = {*INJECTED, *injected}

    def fail(self, message: str, key: Key) -> None:
        self.errors.append(self.spec.error(message, key))

    def run(self) -> dict[str, Any]:
        names = section_names()
        for key in self.spec.data:
            if key not in names:
                self.fail(f"unknown section '{key}'{did_you_mean(str(key), names)}", (key,))
        out = {section.name: self.section(section) for section in SCHEMA if section.holds != "ignored"}
        out["name"] = self.spec.name  # the spec file's stem when the spec names none
        self.check_rules(out)
        if self.errors:
            raise SpecErrors(self.errors)
        return out

    def section(self, section: Section) -> Any:
        """One top-level section, validated as its row of :data:`~ganforge.spec.schema.SCHEMA` says."""
        if section.holds == "value":
            return self.scalar(section.name, section.hint, section.default)
        if section.holds == "optimizers":
            return self.optimizers()
        if section.holds == "settings":
            assert section.settings is not None
            return self.settings(section.name, section.settings)
        if section.holds == "loggers":
            assert section.settings is not None
            return self.logging(section.settings)
        kind, data = str(section.kind), self.spec.data
        if section.count == "list":
            return [self.component(kind, v, (section.name, i), section.reserved) for i, v in enumerate(self.listing(section.name))]
        if section.name not in data and section.count != "optional":
            null = " (or null for none)" if section.count == "nullable" else ""
            self.fail(f"missing required section '{section.name}:' (a {kind}, e.g. {{name: ...}}{null}; see `ganforge list {kind}`)", ())
            return None
        value = data.get(section.name)
        if value is None and section.count != "one":
            return None
        return self.component(kind, value, (section.name,), section.reserved)

    def check_rules(self, out: dict[str, Any]) -> None:
        """The rules that span values: each problem found here, once, before anything is built."""
        if "name" in self.spec.data and not _NAME.fullmatch(str(self.spec.data["name"])):  # it names the folder runs/NAME/
            self.fail(f"expected one word of letters, digits, '.', '_' or '-' (runs go to runs/NAME/), got {self.spec.data['name']!r}", ("name",))
        if isinstance(out["device"], str) and not _DEVICE.match(out["device"]):
            self.fail(f"device must be auto, cpu, cuda, cuda:N or mps, got '{out['device']}'", ("device",))
        terms: list[tuple[Key, Any]] = [(("loss",), out.get("loss")), *((("penalties", i), t) for i, t in enumerate(out["penalties"]))]
        for where, term in terms:
            if term and isinstance(term["stop"], int) and isinstance(term["start"], int) and term["stop"] <= term["start"]:
                self.fail(f"stop must be null or a step after start, got {term['stop']!r}", where + ("stop",))
        for i, metric in enumerate(out["metrics"]):
            if metric and metric.get("every") is None:
                self.fail(f"missing every: how often to compute {metric.get('name')}, in steps (every: 500) or epochs (every: 1 epoch)", ("metrics", i))
            elif metric and not _valid_every(metric.get("every")):
                self.fail("every must be a number of steps (e.g. 500) or of epochs (e.g. '1 epoch')", ("metrics", i, "every"))
        batch_size, accumulate = (out.get("data") or {}).get("batch_size"), out["train"].get("accumulate")
        if isinstance(batch_size, int) and isinstance(accumulate, int) and accumulate > 1 and batch_size % accumulate:
            self.fail(f"{accumulate} micro-batches do not divide data.batch_size={batch_size}; use a divisor of it", ("train", "accumulate"))
        if out["train"].get("best_metric") and not out["metrics"]:
            self.fail("best_metric names a metric value, but the spec has no metrics: add one under metrics:, or remove best_metric", ("train", "best_metric"))
        if out["train"].get("lazy_regularization") == "separate":
            self.check_separate_regularization(out)
        self.check_fit(out)

    def check_separate_regularization(self, out: dict[str, Any]) -> None:
        """``train.lazy_regularization: separate``: the loss runs at every update (only penalties
        are lazy), and the lazy penalties of one network share one interval (its optimizer's lr
        and betas are adjusted for it). Penalties whose factory is not a class are checked when built."""
        every = (out.get("loss") or {}).get("every")
        if isinstance(every, int) and every > 1:
            self.fail("with train.lazy_regularization: separate only penalties run lazily and the loss at every update: "
                      "set every: 1 here, or use lazy_regularization: folded", ("loss", "every"))  # fmt: skip
        first: dict[str, tuple[int, int]] = {}  # network -> (its interval, the penalty that set it)
        for i, term in enumerate(out["penalties"]):
            every = (term or {}).get("every")
            if not isinstance(every, int) or every <= 1:
                continue
            factory = self.registry.get("loss", str(term["name"])).factory
            for network in trained_networks(factory) if isinstance(factory, type) else ():
                interval, where = first.setdefault(network, (every, i))
                if interval != every:
                    self.fail(f"every: {every} differs from penalties.{where}.every: {interval}, and both regularise the {network}; with "
                              "train.lazy_regularization: separate a network has one lazy interval (its optimizer's lr and betas are adjusted "
                              "for it): give them the same every, or use lazy_regularization: folded", ("penalties", i, "every"))  # fmt: skip

    def check_fit(self, out: dict[str, Any]) -> None:
        """The rules between components, decided from their registered classes and resolved
        parameters (nothing is built): a packing discriminator's packs, a term that trains a
        discriminator the spec leaves out, and each metric's :meth:`~ganforge.Metric.check`."""
        if out.get("discriminator") and (info := self.info("discriminator", out["discriminator"])):
            self.check_pack(info, self.declared("discriminator", out["discriminator"], "pack"), (out.get("data") or {}).get("batch_size"), out["train"].get("accumulate"))
        if "discriminator" in self.spec.data and out.get("discriminator") is None:  # its phase never runs: a term that trains it would be dropped without a word
            for key, term in [(("loss",), out.get("loss")), *((("penalties", i), t) for i, t in enumerate(out["penalties"]))]:
                if term and (info := self.info("loss", term)) and isinstance(info.factory, type) and "discriminator" in trained_networks(info.factory):
                    owner = describe_component("loss", info.name, info.plugin)
                    self.fail(f"{owner} trains the discriminator, and the spec has discriminator: null; add a discriminator or drop the term", key)
        generator = out.get("generator")
        if not generator or not (info := self.info("generator", generator)) or any(str(e.field).split(".")[0] == "generator" for e in self.errors):
            return  # a generator already reported: its metrics would only repeat it
        inputs = self.declared("generator", generator, "inputs") or ()
        subject = MetricSubject(getattr(info.factory, "__name__", info.name), self.declared("generator", generator, "num_classes"), tuple(inputs), dict(out.get("data") or {}))
        for i, entry in enumerate(out["metrics"]):
            if entry and (metric := self.info("metric", entry)):
                self.check_metric(metric, subject, ("metrics", i))

    def check_pack(self, info: ComponentInfo, pack: Any, batch_size: Any, accumulate: Any) -> None:
        """A packing discriminator (``pack`` > 1, see :class:`~ganforge.Discriminator`) needs
        every (micro-)batch to split into whole packs."""
        if not all(isinstance(v, int) for v in (pack, batch_size, accumulate)) or pack <= 1 or batch_size % accumulate:
            return  # a batch that does not split into micro-batches is train.accumulate's error
        if (batch_size // accumulate) % pack:
            per = f" (micro-batches of {batch_size // accumulate} with train.accumulate={accumulate})" if accumulate > 1 else ""
            owner = describe_component("discriminator", info.name, info.plugin)
            self.fail(f"{batch_size} samples{per} do not split into packs of {pack} for {owner}; use a multiple of {pack * accumulate}", ("data", "batch_size"))

    def check_metric(self, info: ComponentInfo, subject: MetricSubject, key: Key) -> None:
        """What ``info``'s metric class says of ``subject``; a plugin's faulty ``check`` is its own error."""
        owner, factory = describe_component("metric", info.name, info.plugin), info.factory
        if not (inspect.isclass(factory) and issubclass(factory, Metric)):
            return  # a factory function: its class is not known before it is built
        if not isinstance(inspect.getattr_static(factory, "check"), classmethod):
            self.fail(f"{owner}: check must be a classmethod, check(cls, subject: ganforge.MetricSubject), so it is decided before anything is built; fix the plugin", key)
            return
        try:
            unfit = factory.check(subject)
        except Exception as exc:  # noqa: BLE001 - a plugin's check failing is reported as its failure
            self.fail(f"{owner} failed in check: {type(exc).__name__}: {exc}", key)
            return
        if unfit is not None:
            valid = isinstance(unfit, str) and unfit
            self.fail(f"{owner} {unfit}" if valid else f"{owner}: check must return None or a reason (a non-empty str), got {unfit!r}; fix the plugin", key)

    def declared(self, kind: str, entry: dict[str, Any], name: str) -> Any:
        """What :func:`~ganforge.interfaces.networks.declared` says of the resolved network
        ``entry``: a wrapper's nested networks of its kind answer for it when it says nothing."""
        if (info := self.info(kind, entry)) is None:
            return None
        signature = signature_of(info.factory)
        wrapped = (
            self.declared(kind, value, name) for param, value in entry.items()
            if isinstance(value, dict) and (p := signature.get(param)) is not None and nested_kind(p.hint) == kind
        )  # fmt: skip
        return declared(info.factory, entry, name, wrapped)

    def info(self, kind: str, entry: dict[str, Any]) -> ComponentInfo | None:
        """The registry entry of a resolved ``entry`` (None when its name was already reported)."""
        try:
            return self.registry.get(kind, str(entry.get("name")))
        except GanforgeError:
            return None

    def scalar(self, key: str, kind: Any, default: Any) -> Any:
        value = self.spec.data.get(key, default)
        problem = type_error(value, kind)
        if problem:
            self.fail(problem, (key,))
        return value

    def listing(self, key: str) -> list[Any]:
        value = self.spec.data.get(key) or []
        if not isinstance(value, list):
            self.fail(f"'{key}' must be a list of {{name: ...}} entries", (key,))
            return []
        return value

    def component(self, kind: str, value: Any, key: Key, reserved: Mapping[str, tuple[Any, Any]] | None = None) -> dict[str, Any]:
        """Validate one ``{name: ..., params...}`` entry; returns it with defaults filled."""
        reserved = reserved or {}
        if isinstance(value, str):
            value = {"name": value}
        if not isinstance(value, dict) or "name" not in value:
            self.fail(f"expected a {kind} as {{name: <registered name>, <parameters>...}}", key)
            return {}
        name = value["name"]
        try:
            info = self.registry.get(kind, str(name))
        except GanforgeError as exc:
            self.fail(str(exc), key + ("name",))
            return {}
        out: dict[str, Any] = {"name": name}
        for p, (default, hint) in reserved.items():
            out[p] = value.get(p, default)
            problem = type_error(out[p], hint)
            if problem:
                self.fail(problem, key + (p,))
        params = {k: v for k, v in value.items() if k != "name" and k not in reserved}
        see = f"; see `ganforge list {kind} {name} --params`"
        out.update(self._params(params, signature_of(info.factory), key, f"{kind} '{name}'", [*reserved, "name"], see, plugin=info.plugin))
        return out

    def optimizers(self) -> dict[str, Any]:
        value = self.spec.data.get("optimizers") or {}
        if not isinstance(value, dict):
            self.fail("optimizers must map generator/discriminator to {name: Adam, lr: ...}", ("optimizers",))
            return {}
        for role in value:
            if role not in ("generator", "discriminator"):
                self.fail(f"unknown optimizer role '{role}'{did_you_mean(str(role), ['generator', 'discriminator'])}", ("optimizers", role))
        return {role: self.optimizer(value.get(role, DEFAULT_OPTIMIZER), ("optimizers", role)) for role in ("generator", "discriminator")}

    def optimizer(self, value: Any, key: Key) -> dict[str, Any]:
        out = self.torch_class(value, key, torch.optim, optimizer_names(), "optimizer", skip=("params",), reserved=OPTIMIZER_RESERVED)
        if not out:
            return {}
        warmup = value.get("warmup", 0)
        if not (isinstance(warmup, int) and not isinstance(warmup, bool) and warmup >= 0):
            self.fail(f"warmup is a number of steps (an integer >= 0), got {warmup!r}", key + ("warmup",))
        out["warmup"] = warmup
        schedule = value.get("schedule")
        out["schedule"] = None if schedule is None else self.torch_class(
            schedule, key + ("schedule",), torch.optim.lr_scheduler, scheduler_names(), "schedule", skip=("optimizer", "last_epoch", "verbose")
        )  # fmt: skip
        if not any(e.field and e.field.startswith(".".join(map(str, key))) for e in self.errors):
            self.probe_optimizer(out, key)
        return out

    def probe_optimizer(self, settings: dict[str, Any], key: Key) -> None:
        """Build the optimizer and its schedule on a one-weight module, so values torch refuses
        (a negative ``lr``, ``betas`` outside [0, 1)) are spec errors now, not a traceback later."""
        try:
            optimizer = probe_optimizer(settings)
        except (ValueError, TypeError) as exc:
            self.fail(f"optimizer {settings['name']} refuses these values: {exc}", key)
            return
        try:
            build_schedule(settings, optimizer)
        except (ValueError, TypeError) as exc:
            self.fail(f"schedule refuses these values: {exc}", key + (("schedule",) if settings.get("schedule") else ("warmup",)))

    def torch_class(
        self, value: Any, key: Key, module: Any, names: list[str], what: str, skip: tuple[str, ...], reserved: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        """``{name: <a class of module>, <its parameters>...}`` checked against the class's signature."""
        where = module.__name__
        if not isinstance(value, dict) or "name" not in value:
            self.fail(f"expected {{name: <{where} class>, <parameters>...}}", key)
            return {}
        name = str(value["name"])
        if name not in names:
            self.fail(f"unknown {what} '{name}'{did_you_mean(name, names)}; any {where} class works", key + ("name",))
            return {}
        params = {k: v for k, v in value.items() if k not in ("name", *reserved)}
        return {"name": name, **self._params(params, signature_of(getattr(module, name), skip=skip), key, f"{what} {name}", reserved)}

    def settings(self, section: str, config: type) -> dict[str, Any]:
        """A section of plain settings (``train``, ``distributed``) checked against ``config``'s fields."""
        value = self.spec.data.get(section) or {}
        if not isinstance(value, dict):
            self.fail(f"{section} must be a mapping, e.g. {{{signature_of(config).names[0]}: ...}}", (section,))
            return {}
        return self._params(value, signature_of(config), (section,), section)

    def logging(self, config: type) -> dict[str, Any]:
        """The ``logging:`` section: a list of loggers (``[{name: wandb, project: gans}]``), or the
        settings mapping (``{tensorboard: true, plots: false, loggers: [...]}``). Resolved as the
        mapping, its ``loggers`` always starting with ``jsonl`` (metrics.jsonl is always written) and
        holding ``tensorboard`` when ``tensorboard: true`` asks for it."""
        value = self.spec.data.get("logging")
        where: Key
        if isinstance(value, list):
            settings, entries, where = {}, value, ("logging",)
        elif isinstance(value, dict) or value is None:
            settings, where = dict(value or {}), ("logging", "loggers")
            entries = settings.pop("loggers", None) or []
            if not isinstance(entries, list):
                self.fail("loggers must be a list of {name: ...} entries (see `ganforge list logger`)", where)
                entries = []
        else:
            self.fail("logging must be a list of loggers, e.g. [{name: tensorboard}, {name: wandb, project: gans}], "
                      "or a mapping of settings, e.g. {tensorboard: true, plots: false}", ("logging",))  # fmt: skip
            return {}
        out = self._params(settings, signature_of(config), ("logging",), "logging", ["loggers"])
        loggers = [self.component("logger", entry, where + (i,)) for i, entry in enumerate(entries)]
        names = {entry.get("name") for entry in loggers}
        if out.get("tensorboard") is True and "tensorboard" not in names:
            loggers.append(self.component("logger", "tensorboard", ("logging", "tensorboard")))
        if "jsonl" not in names:
            loggers.insert(0, self.component("logger", "jsonl", ("logging",)))
        out["loggers"] = loggers
        return out

    def _params(
        self, given: dict[str, Any], signature: Signature, key: Key, owner: str, also_allowed: Sequence[str] = (), see: str = "", plugin: str = ""
    ) -> dict[str, Any]:
        """Check ``given`` against ``signature``: unknown names (did you mean), types, nested
        components, missing required parameters. Returns the values with defaults filled in.

        A plugin's parameter without a type hint (``plugin`` given) is checked against the type
        of its default, so ``margin=1.0`` refuses ``"abc"`` here rather than at step 0."""
        out: dict[str, Any] = {}
        for param, value in given.items():
            spec_param = signature.get(param)
            if spec_param is None:
                if signature.accepts_any:
                    out[param] = value
                else:
                    suggestion = did_you_mean(str(param), [*signature.names, *also_allowed])
                    self.fail(f"unknown parameter '{param}' for {owner}{suggestion}{see}", key + (param,))
                continue
            sub_kind = nested_kind(spec_param.hint)
            if sub_kind and isinstance(value, (str, dict)):
                out[param] = self.component(sub_kind, value, key + (param,))
                continue
            unhinted = bool(plugin) and spec_param.hint is inspect.Parameter.empty
            problem = type_error(value, hint_of_default(spec_param.default) if unhinted else spec_param.hint)
            if problem and unhinted:
                self.fail(
                    f"{problem} for {owner} parameter '{param}': plugin {plugin} gives it no type hint, so it is checked "
                    f"against its default {spec_param.default!r}; pass a {type(spec_param.default).__name__}, or add a type hint in the plugin",
                    key + (param,),
                )
            elif problem:
                self.fail(f"{problem} for {owner} parameter '{param}'", key + (param,))
            out[param] = value
        for p in signature.params:
            if p.name in out or p.name in self.injected:
                continue
            if p.required:
                self.fail(f"missing required parameter '{p.name}' for {owner} ({p.describe_type()})", key)
            elif _plain(p.default):
                out[p.name] = _yaml_value(p.default)
        return out


def hint_of_default(default: Any) -> Any:
    """What a parameter without a type hint is checked against: its default's type when that
    is a plain scalar (a number default takes any number), else anything."""
    if isinstance(default, (bool, str)):
        return type(default)
    if isinstance(default, (int, float)):
        return float
    return inspect.Parameter.empty


def optimizer_names() -> list[str]:
    return sorted(
        n for n, obj in vars(torch.optim).items()
        if inspect.isclass(obj) and issubclass(obj, torch.optim.Optimizer) and obj is not torch.optim.Optimizer
    )  # fmt: skip


def scheduler_names() -> list[str]:
    """The ``torch.optim.lr_scheduler`` classes a spec can name (those that need only one optimizer)."""
    module = torch.optim.lr_scheduler
    base = getattr(module, "LRScheduler", None) or module._LRScheduler
    excluded = {"LRScheduler", "_LRScheduler", "SequentialLR", "ChainedScheduler", "ReduceLROnPlateau"}
    return sorted(n for n, obj in vars(module).items() if inspect.isclass(obj) and issubclass(obj, base) and n not in excluded)


def _valid_every(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value >= 1
    return isinstance(value, str) and bool(_EVERY.match(value)) and not value.strip().startswith("0")


def _plain(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def _yaml_value(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_yaml_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _yaml_value(v) for k, v in value.items()}
    return value
