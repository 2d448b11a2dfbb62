"""The one kind of registry behind what users extend (datasets, reference rows, executors, report sections): it
refuses a name twice, lists what it holds in registration order, and names what it holds when asked for another.

>>> from benchmark.registry import Registry
>>> colours = Registry("colour")
>>> colours.add("red", 1), colours.add("green", 2), colours.names("g*")
(1, 2, ['green'])
>>> colours["blue"]
Traceback (most recent call last):
ValueError: unknown colour 'blue'; available: red, green
"""
from __future__ import annotations

import fnmatch
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """Items of one ``kind`` by name; ``error`` is the exception a duplicate or unknown name raises."""

    def __init__(self, kind: str, error: type[Exception] = ValueError):
        self.kind, self.error = kind, error
        self._items: dict[str, T] = {}

    def add(self, name: str, item: T) -> T:
        if name in self._items:
            article = "an" if self.kind[0] in "aeiou" else "a"
            raise self.error(f"{article} {self.kind} named {name!r} is already registered; pick another name")
        self._items[name] = item
        return item

    def remove(self, name: str) -> None:
        """Forget ``name`` (for tests and interactive sessions)."""
        self._items.pop(name, None)

    def find(self, name: str) -> T | None:
        return self._items.get(name)

    def __getitem__(self, name: str) -> T:
        if name not in self._items:
            raise self.error(f"unknown {self.kind} {name!r}; available: {', '.join(self._items)}")
        return self._items[name]

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def names(self, pattern: str = "*") -> list[str]:
        """The names matching the shell-style ``pattern``, in registration order."""
        return [name for name in self._items if fnmatch.fnmatchcase(name, pattern)]

    def values(self) -> list[T]:
        return list(self._items.values())
