"""The registry of hashing losses: losses registered with ``@register`` (each with its family and published
source), named variants with ``register_variant``, and ``build`` which also loads a user's
``package.module:ClassName``."""
from __future__ import annotations

import difflib
import importlib
import inspect
from dataclasses import dataclass, field

from .base import HashingLoss, LossConfigError
from .citation import Citation
from .space import Choice, FloatRange, IntRange

#: The loss families, in the order lists and reports show them.
FAMILIES = ("pairwise", "triplet", "center", "proxy", "dcgh", "contrastive")


@dataclass(frozen=True)
class LossEntry:
    """One registered name: a loss (``base`` is None) or a variant fixing some parameters of one.

    Attributes:
        family: one of ``FAMILIES``, or None for a user's loss registered without one; a variant has its
            base's family.
        source: the published method it implements, e.g. ``"HashNet — Cao et al., ICCV 2017"`` (its citation's
            ``short`` form when it has one); None for a loss that is no published method.
        citation: the structured citation (title, authors, venue, year, BibTeX, code) of that method, or None.
        representative: True for the one loss that stands for its family (``--losses all``).
        control: True for a label-free control (``infonce``): reports show it beside the losses and never rank or
            test it with them.
        display_name: the name tables and figures print for it (None: the report's own name for a loss of the
            suite, else ``name``).
    """

    name: str
    cls: type[HashingLoss]
    description: str
    base: str | None = None
    fixed: dict = field(default_factory=dict)
    family: str | None = None
    source: str | None = None
    representative: bool = False
    citation: Citation | None = None
    control: bool = False
    display_name: str | None = None

    @property
    def is_variant(self) -> bool:
        return self.base is not None


_REGISTRY: dict[str, LossEntry] = {}


def _check_family(family: str | None) -> None:
    if family is not None and family not in FAMILIES:
        raise LossConfigError(f"unknown loss family {family!r}; families: {', '.join(FAMILIES)}")


def _first_doc_line(cls: type) -> str:
    doc = inspect.getdoc(cls) or ""
    return doc.strip().splitlines()[0] if doc.strip() else cls.__name__


def _add(entry: LossEntry) -> None:
    if entry.name in _REGISTRY:
        raise LossConfigError(
            f"a loss named {entry.name!r} is already registered "
            f"({_REGISTRY[entry.name].cls.__module__}.{_REGISTRY[entry.name].cls.__qualname__}); pick another name"
        )
    _REGISTRY[entry.name] = entry


def register(
    name: str,
    *,
    family: str | None = None,
    citation: Citation | None = None,
    source: str | None = None,
    representative: bool = False,
    description: str | None = None,
    control: bool = False,
    display_name: str | None = None,
):
    """Class decorator registering a loss under ``name``; registering a name twice raises.

    Args:
        family: one of ``FAMILIES`` (None for a loss outside them, e.g. a user's own).
        citation: the published method as a :class:`losses.Citation`; its short form becomes ``source``.
        source: the published method as free text, ``"Method — Authors, Venue Year"``, for a loss without a
            ``citation``.
        representative: the loss stands for its family; at most one per family, and it needs a family.
        description: one line for ``list losses``; defaults to the first line of the class docstring.
        control: the loss is a label-free control, shown beside the losses but never ranked or tested with them; a
            control is never its family's representative.
        display_name: the name tables and figures print (``"SimReg"``); defaults to the class's ``display_name``.
    """
    _check_family(family)
    _check_declared(name, citation, display_name)
    if representative:
        if family is None:
            raise LossConfigError(f"loss {name!r}: a representative loss needs a family")
        if control:
            raise LossConfigError(f"loss {name!r}: a control cannot be its family's representative")
        taken = [e.name for e in _REGISTRY.values() if e.representative and e.family == family]
        if taken:
            raise LossConfigError(f"loss {name!r}: family {family!r} already has its representative {taken[0]!r}")

    def decorator(cls: type[HashingLoss]) -> type[HashingLoss]:
        if not (isinstance(cls, type) and issubclass(cls, HashingLoss)):
            raise TypeError(f"@register({name!r}) decorates HashingLoss subclasses, got {cls!r}")
        _checked_space(name, cls)
        _check_declared(f"{cls.__module__}.{cls.__qualname__}", cls.citation, cls.display_name)
        cited = citation or cls.citation
        _add(LossEntry(name=name, cls=cls, description=description or _first_doc_line(cls), family=family,
                       source=cited.short if cited else source, representative=bool(representative), citation=cited,
                       control=bool(control), display_name=display_name or cls.display_name))
        return cls

    return decorator


def register_variant(name: str, base: str, description: str, **fixed) -> None:
    """Register ``name`` as ``base`` with the parameters ``fixed`` (an ablation, e.g. ``gamma=0``); the variant
    has its base's family, source and citation and is never a representative."""
    if base not in _REGISTRY or _REGISTRY[base].is_variant:
        raise LossConfigError(f"variant {name!r}: base {base!r} is not a registered loss family")
    entry = _REGISTRY[base]
    _check_params(base, entry.cls, fixed)
    _add(LossEntry(name=name, cls=entry.cls, description=description, base=base, fixed=dict(fixed),
                   family=entry.family, source=entry.source, citation=entry.citation, control=entry.control))


def _check_declared(label: str, citation, display_name) -> None:
    if citation is not None and not isinstance(citation, Citation):
        raise LossConfigError(f"loss {label!r}: citation must be a losses.Citation, got {citation!r}")
    if display_name is not None and (not isinstance(display_name, str) or not display_name.strip()
                                     or "\n" in display_name):
        raise LossConfigError(f"loss {label!r}: display_name must be one line of text, got {display_name!r}")


def declared(spec: str) -> tuple[str | None, Citation | None]:
    """The display name and citation a loss (name, variant or ``package.module:ClassName``) declares: with
    ``register``, else as its class's ``display_name`` and ``citation``; None for what it leaves out."""
    if ":" in spec:
        cls = _load_user_class(spec)
        _check_declared(spec, cls.citation, cls.display_name)
        return cls.display_name, cls.citation
    entry = _entry(spec)
    return entry.display_name, entry.citation


def unregister(name: str) -> None:
    """Remove ``name`` (for tests and interactive sessions that re-define a loss)."""
    _REGISTRY.pop(name, None)


def available(variants: bool = True) -> list[str]:
    """Registered names, sorted; ``variants=False`` keeps only the losses themselves (no variants)."""
    return sorted(n for n, e in _REGISTRY.items() if variants or not e.is_variant)


def representatives() -> list[str]:
    """The loss standing for each family (``--losses all``), sorted."""
    return sorted(n for n, e in _REGISTRY.items() if e.representative)


def families() -> list[str]:
    """The loss families, in their display order: pairwise, triplet, center, proxy, dcgh, contrastive."""
    return list(FAMILIES)


def family_members(family: str) -> list[str]:
    """The registered losses of ``family`` (no variants), sorted; an unknown family raises naming them."""
    if family not in FAMILIES:
        raise LossConfigError(f"unknown loss family {family!r}; families: {', '.join(FAMILIES)}")
    return sorted(n for n, e in _REGISTRY.items() if e.family == family and not e.is_variant)


def entries() -> list[LossEntry]:
    """Every registered entry, families first, each group sorted by name."""
    return sorted(_REGISTRY.values(), key=lambda e: (e.is_variant, e.name))


def _accepted_params(cls: type) -> tuple[list[str], bool]:
    """The keyword parameters of ``cls.__init__`` besides n_classes/n_bits, and whether it takes **kwargs."""
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    names = [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    names = [n for n in names if n not in ("n_classes", "n_bits")]
    return names, any(p.kind is p.VAR_KEYWORD for p in params)


def _entry(name: str) -> LossEntry:
    """The registered entry ``name``; LossConfigError naming the nearest registered name otherwise."""
    if name not in _REGISTRY:
        hint = difflib.get_close_matches(name, list(_REGISTRY), n=1)
        raise LossConfigError(
            f"unknown loss {name!r}"
            + (f" (did you mean {hint[0]!r}?)" if hint else "")
            + f"; available: {', '.join(available())}; a loss registered in your own module needs that module "
            "imported (--plugins package.module), or give it as 'package.module:ClassName'"
        )
    return _REGISTRY[name]


def parameters(spec: str) -> list[str]:
    """The parameters a loss (name, variant or ``module:Class``) accepts besides n_classes/n_bits; those a
    variant fixes are left out."""
    if ":" in spec:
        return _accepted_params(_load_user_class(spec))[0]
    entry = _entry(spec)
    return [name for name in _accepted_params(entry.cls)[0] if name not in entry.fixed]


def defaults(spec: str) -> dict[str, object]:
    """Each parameter of :func:`parameters` with its default (``inspect.Parameter.empty`` when required)."""
    cls = _load_user_class(spec) if ":" in spec else _REGISTRY[spec].cls
    signature = inspect.signature(cls.__init__).parameters
    return {name: signature[name].default for name in parameters(spec)}


def _checked_space(label: str, cls: type) -> dict:
    """``cls.search_space``, checked: a range (``losses.space``) per parameter the loss accepts, each default inside
    its range."""
    space = dict(getattr(cls, "search_space", None) or {})
    names, _ = _accepted_params(cls)
    signature = inspect.signature(cls.__init__).parameters
    for key, value in space.items():
        if key not in names:
            hint = difflib.get_close_matches(key, names, n=1)
            raise LossConfigError(f"loss {label!r}: search_space names {key!r}, which is not one of its parameters"
                                  + (f" (did you mean {hint[0]!r}?)" if hint else "")
                                  + f"; parameters: {', '.join(names) or '(none)'}")
        if not isinstance(value, (FloatRange, IntRange, Choice)):
            raise LossConfigError(f"loss {label!r}: search_space[{key!r}] must be a losses.FloatRange, IntRange or "
                                  f"Choice, got {value!r}")
        default = signature[key].default
        if default is not inspect.Parameter.empty and not value.contains(default):
            raise LossConfigError(f"loss {label!r}: the default {key}={default!r} is outside its search range "
                                  f"{value.describe()}")
    return space


def search_space(spec: str) -> dict:
    """The range a tuner may search of each parameter of a loss (name, variant or ``module:Class``), as its class
    declares in ``search_space`` (``losses.space``); a variant's fixed parameters are left out."""
    if ":" in spec:
        return _checked_space(spec, _load_user_class(spec))
    entry = _entry(spec)
    return {key: value for key, value in _checked_space(spec, entry.cls).items() if key not in entry.fixed}


def _check_params(label: str, cls: type, params: dict) -> None:
    names, open_ended = _accepted_params(cls)
    if open_ended:
        return
    for key in params:
        if key not in names:
            hint = difflib.get_close_matches(key, names, n=1)
            raise LossConfigError(
                f"unknown parameter {key!r} for loss {label!r}"
                + (f" (did you mean {hint[0]!r}?)" if hint else "")
                + f"; valid parameters: {', '.join(names) or '(none)'}"
            )


def _load_user_class(spec: str) -> type[HashingLoss]:
    module_name, _, class_name = spec.partition(":")
    if not module_name or not class_name:
        raise LossConfigError(f"loss {spec!r}: a user's loss is written 'package.module:ClassName'")
    if not all(part.isidentifier() for part in module_name.split(".")):
        raise LossConfigError(f"loss {spec!r}: {module_name!r} is not a module name; give its dotted import name "
                              "('package.module:ClassName'), with its folder on PYTHONPATH, not a file path")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise LossConfigError(
            f"loss {spec!r}: cannot import module {module_name!r} ({exc}); "
            "make sure it is on PYTHONPATH or installed"
        ) from exc
    except Exception as exc:  # noqa: BLE001 - the user's module failed, not the suite: one line naming it
        raise LossConfigError(f"loss {spec!r}: importing module {module_name!r} raised {type(exc).__name__}: "
                              f"{exc}; fix the module") from exc
    cls = getattr(module, class_name, None)
    if cls is None:
        raise LossConfigError(f"loss {spec!r}: module {module_name!r} has no attribute {class_name!r}")
    if not (isinstance(cls, type) and issubclass(cls, HashingLoss)):
        raise LossConfigError(f"loss {spec!r}: {class_name} is not a subclass of losses.HashingLoss")
    return cls


def build(spec: str, n_classes: int, n_bits: int, **params) -> HashingLoss:
    """Instantiate a loss.

    Args:
        spec: a registered name (``losses.available()``: ``pairwise``, ``hashnet``, ``dch``, ..., ``dcgh``), a
            named variant (``dcgh-novar``, ...) or ``package.module:ClassName`` for a user's own loss.
        n_classes: number of label classes ``c``.
        n_bits: code length ``k``.
        **params: overrides of the loss's named parameters (docs/losses.md gives each and its default).

    Raises:
        LossConfigError (a ValueError): unknown name, unknown parameter or invalid value, naming the valid
            choices.
    """
    if not isinstance(spec, str) or not spec:
        raise LossConfigError(f"loss spec must be a non-empty string, got {spec!r}")
    if ":" in spec:
        cls, fixed = _load_user_class(spec), {}
    else:
        entry = _entry(spec)
        cls, fixed = entry.cls, entry.fixed
        for key, value in params.items():
            if key in fixed and fixed[key] != value:
                raise LossConfigError(
                    f"loss {spec!r} fixes {key}={fixed[key]!r}; build {entry.base!r} with {key}={value!r} instead"
                )
    _check_params(spec, cls, params)
    try:
        return cls(n_classes=n_classes, n_bits=n_bits, **{**params, **fixed})
    except TypeError as exc:  # e.g. a required parameter of a user's loss left out
        raise LossConfigError(f"loss {spec!r}: {exc}") from exc
    except LossConfigError:
        raise
    except Exception as exc:
        if cls.__module__.split(".")[0] == __name__.split(".")[0]:
            raise  # the suite's own losses raise LossConfigError for a bad value: anything else is a bug
        raise LossConfigError(f"loss {spec!r}: its constructor raised {type(exc).__name__}: {exc}; fix the loss "
                              f"({cls.__module__}.{cls.__qualname__}) or its parameters") from exc
