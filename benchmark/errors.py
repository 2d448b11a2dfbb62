"""The errors a user can cause, and the one check of integer values every layer shares.

``UserError`` is the base of every error whose message tells the user what to change: the command line prints
exactly those as one line and exits 2. Any other exception is a bug and keeps its traceback.
"""
from __future__ import annotations

import numbers
import reprlib


class UserError(ValueError):
    """A value, file or folder a user gave cannot be used; the message names it and says what to do."""


class ConfigError(UserError):
    """A configuration key, command-line value or loss parameter that cannot be used."""


class DataError(UserError):
    """Data a user brought cannot be used; the message names the file or key and what to do."""


class BackboneError(UserError):
    """A backbone folder that cannot be loaded as a CLIP model."""


class RecordError(UserError):
    """A run record that cannot be read: damaged, or written by another version of the suite."""


class ReportError(UserError):
    """A report that cannot be built as asked: no records, an unknown metric or format."""


#: How a message quotes a value: a few items of each container, a few levels deep (never the whole value: one from
#: YAML aliases can expand to gigabytes).
_QUOTE = reprlib.Repr()
_QUOTE.maxlevel, _QUOTE.maxstring, _QUOTE.maxother = 3, 60, 60
_QUOTE.maxlist = _QUOTE.maxtuple = _QUOTE.maxdict = _QUOTE.maxset = 4
#: The longest quoted value in a message, in characters.
QUOTE_LIMIT = 100


def shown(value) -> str:
    """``repr(value)`` cut to a readable length, for quoting a user's value in a message."""
    text = _QUOTE.repr(value)
    return text if len(text) <= QUOTE_LIMIT else text[:QUOTE_LIMIT - 3] + "..."


def check_int(name: str, value, minimum: int = 1, error: type[Exception] = ConfigError) -> int:
    """``value`` when it is an integer ``>= minimum`` (booleans are not integers here); ``error`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise error(f"{name} must be an integer >= {minimum}, got {shown(value)}")
    return int(value)
