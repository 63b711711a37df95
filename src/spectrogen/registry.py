"""One name -> class registry, used for models, losses and data sources."""

from __future__ import annotations

from typing import Callable, Generic, TypeVar

from spectrogen.errors import UsageError

T = TypeVar("T")


class Registry(Generic[T]):
    """A named collection of plug-ins; `register` is a decorator, lookups name the allowed choices."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def add(entry: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = entry
            return entry

        return add

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            raise UsageError(f"unknown {self.kind} {name!r}; choose one of: {', '.join(self.names())}") from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries
