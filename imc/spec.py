"""The device spec: a frozen, validated record of what a backend declares about its cells.

Units are in the field names: conductances in microsiemens (``_us``), energies in joules
(``_j``), times in seconds (``_s``), probabilities and relative spreads as fractions.
A backend may subclass :class:`DeviceSpec` to add fields of its own physics; the fields
here are the ones the rest of imc (update rules, ledger, conformance) relies on.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, cast

import attrs
import numpy as np

from .errors import SpecError, SpecTypeError, UnknownNameError

# Capabilities: optional behaviours a backend may declare. Conformance checks that need
# one are skipped (with the reason) on a backend that does not declare it.
BOUNDS = "bounds"  # conductance is clipped to a (per-device) window
FAULTS = "faults"  # some cells are stuck at a bound
DRIFT = "drift"  # conductance relaxes over time (Device.drift)
READ_NOISE = "read-noise"  # reads and products see fresh noise each time
DEVICE_VARIATION = "device-variation"  # device-to-device spread of step and bounds
ANALOG_WRITE = "analog-write"  # any requested change is written in one event
NATIVE_PROBABILISTIC = "native-probabilistic"  # the cell itself switches with a set probability
# the device states its switching law: Device.switching_probability / current_for_probability
SWITCHING_LAW = "switching-law"
# a down pulse is a RESET that takes the cell near its low state whatever the count (PCM):
# decreases need RESET + re-SET, so the pair mapping only raises conductances and refreshes
ABRUPT_RESET = "abrupt-reset"
KNOWN_CAPABILITIES = frozenset(
    {BOUNDS, FAULTS, DRIFT, READ_NOISE, DEVICE_VARIATION, ANALOG_WRITE, NATIVE_PROBABILISTIC, ABRUPT_RESET, SWITCHING_LAW}
)


FLOAT32_MAX = float(np.finfo(np.float32).max)


def finite(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    """attrs validator: a finite number (public: backends use it for their own spec fields)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecTypeError(f"{attribute.name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise SpecError(f"{attribute.name} must be finite, got {value!r}")
    if abs(value) > FLOAT32_MAX:  # conductances and their changes are float32 arrays
        raise SpecError(f"{attribute.name} must lie within +-{FLOAT32_MAX:.4g} (what float32 holds), got {value!r}")


def non_negative(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    """attrs validator: a finite number >= 0."""
    finite(instance, attribute, value)
    if value < 0:
        raise SpecError(f"{attribute.name} must be >= 0, got {value!r}")


FLOAT32_TINY = float(np.finfo(np.float32).tiny)  # smallest normal float32


def positive(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    """attrs validator: a finite number > 0 that float32 holds as > 0 (not a subnormal)."""
    finite(instance, attribute, value)
    if value <= 0:
        raise SpecError(f"{attribute.name} must be > 0, got {value!r}")
    if value < FLOAT32_TINY:  # 0 once in a float32 array: a division by zero later
        raise SpecError(f"{attribute.name} must be >= {FLOAT32_TINY:.4g} (the smallest float32 normal), got {value!r}")


MAX_CONDUCTANCE_US = 1e9  # 1 kS: far above any cell; squares of it (read-noise variances) stay within float32


def conductance(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    """attrs validator: a window bound, a finite number of uS within +-MAX_CONDUCTANCE_US."""
    finite(instance, attribute, value)
    if abs(value) > MAX_CONDUCTANCE_US:
        raise SpecError(f"{attribute.name} must lie within +-{MAX_CONDUCTANCE_US:g} uS, got {value!r}")


def positive_conductance(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    """attrs validator: a conductance > 0 uS (see :func:`conductance`)."""
    positive(instance, attribute, value)
    conductance(instance, attribute, value)


MAX_SPREAD = 10.0  # a relative std (lognormal sigma) beyond this over- or underflows float32 scale factors
MAX_PROGRAM_PULSES = 1e6


def spread(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    """attrs validator: a device-to-device relative std, in [0, MAX_SPREAD]."""
    non_negative(instance, attribute, value)
    if value > MAX_SPREAD:
        raise SpecError(f"{attribute.name} is a relative spread and must be <= {MAX_SPREAD:g}, got {value!r}")


def pulse_count(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    """attrs validator: a mean pulse count in [0, MAX_PROGRAM_PULSES]."""
    non_negative(instance, attribute, value)
    if value > MAX_PROGRAM_PULSES:
        raise SpecError(f"{attribute.name} must be <= {MAX_PROGRAM_PULSES:g} pulses, got {value!r}")


def probability(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    """attrs validator: a finite number in [0, 1]."""
    finite(instance, attribute, value)
    if not 0.0 <= value <= 1.0:
        raise SpecError(f"{attribute.name} is a probability and must lie in [0, 1], got {value!r}")


def _capabilities(value: Any) -> frozenset[str]:
    if isinstance(value, str):
        raise SpecTypeError(f"capabilities must be a collection of names, got the string {value!r}")
    return frozenset(str(v) for v in value)


def float_field(default: float, validator: Callable[[Any, attrs.Attribute[Any], Any], None] = finite, doc: str = "") -> Any:
    """A float field with a validator (numbers are converted to float)."""
    return attrs.field(default=default, validator=validator, converter=_to_float, metadata={"doc": doc})


def _to_float(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value  # let the validator report the wrong type
    return float(value)


_NOT_SETTABLE = frozenset({"name", "capabilities", "source"})


def _spec_error(exc: Exception, overrides: Mapping[str, Any]) -> Exception:
    """``exc`` as a SpecError (SpecTypeError for a TypeError) whose one-line message names the field."""
    text = " ".join(str(exc.args[0] if exc.args else exc).split())  # attrs' in_ passes (message, attribute, ...)
    if len(overrides) == 1 and not any(key in text for key in overrides):
        text = f"{next(iter(overrides))}: {text}"
    if isinstance(exc, SpecError) and text == str(exc):
        return exc
    return SpecTypeError(text) if isinstance(exc, TypeError) else SpecError(text)


def _same_value(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0)
    return cast(bool, a == b)


@attrs.frozen(kw_only=True)
class DeviceSpec:
    """What a backend declares about one kind of cell (see the field docs for units).

    A subclass that computes some fields from others lists them in ``derived_fields``
    (field name -> how it is derived); :meth:`evolve` refuses a different value for them.
    """

    #: fields this spec computes from its other fields (name -> how), not settable
    derived_fields: ClassVar[Mapping[str, str]] = {}

    name: str = attrs.field(validator=attrs.validators.instance_of(str))
    g_min_us: float = float_field(0.0, conductance, doc="lower end of the conductance window, uS")
    g_max_us: float = float_field(1.0, positive_conductance, doc="upper end of the conductance window, uS")
    step_us: float = float_field(0.01, positive, doc="nominal |dG| of one pulse at the reference state, uS")
    write_noise_us: float = float_field(
        0.0, non_negative, doc="std of the conductance error of one pulse (one write event for analog-write devices), uS"
    )
    read_noise_rel: float = float_field(0.0, spread, doc="std of read noise as a fraction of G, per read")
    program_noise_us: float = float_field(0.0, non_negative, doc="std after closed-loop write-verify, uS")
    program_pulses: float = float_field(10.0, pulse_count, doc="mean pulses (and verify reads) per programmed cell")
    nonlinearity_up: float = float_field(0.0, doc="potentiation nonlinearity label; 0 = linear, > 0 saturating")
    nonlinearity_down: float = float_field(0.0, doc="depression nonlinearity label; 0 = linear, > 0 saturating")
    asymmetry: float = float_field(0.0, doc="up/down step bias: up step x(1+a), down step x(1-a)")
    step_d2d: float = float_field(0.0, spread, doc="device-to-device relative std of the step")
    bounds_d2d: float = float_field(0.0, spread, doc="device-to-device relative std of the window")
    stuck_low_prob: float = float_field(0.0, probability, doc="fraction of cells stuck at g_min")
    stuck_high_prob: float = float_field(0.0, probability, doc="fraction of cells stuck at g_max")
    endurance_cycles: float = float_field(1e9, positive, doc="pulses a cell survives")
    energy_per_pulse_j: float = float_field(1e-12, non_negative, doc="energy of one write pulse, J")
    energy_set_j: float | None = attrs.field(
        default=None, converter=attrs.converters.optional(_to_float), validator=attrs.validators.optional(non_negative),
        metadata={"doc": "energy of one SET pulse (raises G), J; None = energy_per_pulse_j"},
    )
    energy_reset_j: float | None = attrs.field(
        default=None, converter=attrs.converters.optional(_to_float), validator=attrs.validators.optional(non_negative),
        metadata={"doc": "energy of one RESET pulse (lowers G), J; None = energy_per_pulse_j"},
    )
    energy_per_read_j: float = float_field(1e-15, non_negative, doc="energy of reading one cell once, J")
    pulse_width_s: float = float_field(50e-9, positive, doc="write pulse width, s")
    read_time_s: float = float_field(10e-9, positive, doc="time of one read or product, s")
    capabilities: frozenset[str] = attrs.field(factory=frozenset, converter=_capabilities)
    source: str = attrs.field(default="", validator=attrs.validators.instance_of(str))

    def __attrs_post_init__(self) -> None:
        if self.g_min_us >= self.g_max_us:
            raise SpecError(
                f"g_min_us ({self.g_min_us}) must be below g_max_us ({self.g_max_us})"
            )
        if self.stuck_low_prob + self.stuck_high_prob > 1.0:
            raise SpecError("stuck_low_prob + stuck_high_prob must not exceed 1")
        if not -1.0 < self.asymmetry < 1.0:
            raise SpecError(f"asymmetry must lie in (-1, 1), got {self.asymmetry}")

    def pulse_energy_j(self, direction: int) -> float:
        """Energy of one pulse raising (+1, SET) or lowering (-1, RESET) the conductance, J."""
        declared = self.energy_set_j if direction > 0 else self.energy_reset_j
        return self.energy_per_pulse_j if declared is None else declared

    @property
    def declares_set_reset(self) -> bool:
        """Whether SET and RESET pulses are costed apart (either energy declared)."""
        return self.energy_set_j is not None or self.energy_reset_j is not None

    @property
    def range_us(self) -> float:
        """Width of the conductance window, uS."""
        return self.g_max_us - self.g_min_us

    def has(self, capability: str) -> bool:
        """Whether the spec declares ``capability`` (e.g. imc.spec.BOUNDS, "drift")."""
        return capability in self.capabilities

    # -- optional declarations: None when a technology has nothing to declare -----------
    @property
    def levels(self) -> int | None:
        """Distinct conductance levels a cell is written through, if the technology has a
        natural count (MRAM: junctions + 1; FeFET, fitted tables: pulses across the window);
        None for a continuous cell (then ``range_us / step_us`` is the nominal count)."""
        return None

    @property
    def level_us(self) -> float | None:
        """Conductance change of one discrete switch (MRAM: one junction flip, uS), for
        native-probabilistic cells whose switch is not the nominal pulse step; None otherwise."""
        return None

    def evolve(self, **overrides: Any) -> DeviceSpec:
        """A copy with some fields changed.

        An unknown field is an :class:`~imc.errors.UnknownNameError` naming the closest. A
        field the spec derives from others (:attr:`derived_fields`) cannot be set to a value
        other than the one it derives, and no override may be silently replaced: either the
        copy holds every value given, or this raises :class:`~imc.errors.SpecError` naming
        the field.
        """
        cls = type(self)
        fields = attrs.fields_dict(cls)
        for key in overrides:
            if key not in fields:
                raise UnknownNameError(unknown_name_message("spec field", key, fields, cls.__name__))
        try:
            new = attrs.evolve(self, **overrides)
        except (TypeError, ValueError) as exc:  # a validator's or converter's refusal: a user error naming the field
            raise _spec_error(exc, overrides) from None
        for key, value in overrides.items():
            # one-argument converters (an attrs.Converter taking self or the field would need more)
            converter = cast(Callable[[Any], Any] | None, fields[key].converter)
            wanted = converter(value) if converter is not None else value
            if not _same_value(getattr(new, key), wanted):
                how = self.derived_fields.get(key)
                reason = (f"it is derived: {how}" if how else
                          "the spec replaced it (declare it in derived_fields)")
                raise SpecError(
                    f"{key} cannot be set to {value!r} on {cls.__name__} (the result holds "
                    f"{getattr(new, key)!r}): {reason}"
                )
        return new

    @classmethod
    def settable_fields(cls) -> list[str]:
        """Fields a user may override: all but name, capabilities, source and derived ones."""
        return [a.name for a in attrs.fields(cls) if a.name not in _NOT_SETTABLE and a.name not in cls.derived_fields]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict of the fields."""
        out = attrs.asdict(self)
        out["capabilities"] = sorted(self.capabilities)
        return out

    def field_docs(self) -> dict[str, str]:
        """Field name -> its documentation (meaning and unit)."""
        return {a.name: a.metadata.get("doc", "") for a in attrs.fields(type(self))}


def unknown_name_message(kind: str, name: str, known: Iterable[str], where: str = "") -> str:
    """"unknown X 'y' [in where]; did you mean 'z'? known: a, b, c" for all lookups."""
    known = sorted(known)
    close = difflib.get_close_matches(str(name), known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    place = f" in {where}" if where else ""
    return f"unknown {kind} {name!r}{place}{hint} (known: {', '.join(known) or 'none'})"
