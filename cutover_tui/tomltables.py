"""The run record's TOML text, re-serialised only where it changed.

``tomli_w`` writes a document as its top-level values, then each table in turn; a table whose
values are all tables (the record's ``[steps]``, ``[phases]``) is written as each of those, one
after the other. So the document is a series of *pieces* — the top-level values, ``[run]``, each
step's table, each phase's table — and ``tomli_w.dumps({"steps": {id: table}})`` is exactly that
step's piece. A ``Version`` keeps each piece's text with the value it was made from; ``render``
dumps again only the pieces whose value is not ``same`` as before, and the text it joins is byte
for byte ``tomli_w.dumps(plain(data))`` (the tests compare them).

The data handed out to be changed (``working_copy``) copies each step's table only when the
change first looks at it (``CopyOnRead``): a table never looked at is still the version's own
object, which ``same`` recognises at once, so a change to one step costs one step, not all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import tomli_w

from .records import plain

Key = tuple[str, ...]  # () the top-level values; ("run",) a table; ("steps", "1.1") one of its tables
LITERALS: Key = ()


def thaw(value: Any) -> Any:
    """A copy of a parsed TOML value that can be changed without touching the original: its
    tables and arrays copied, its strings, numbers and times (immutable) shared."""
    kind = type(value)
    if kind is dict:
        return {key: thaw(item) for key, item in value.items()}
    if kind is list:
        return [thaw(item) for item in value]
    return value


def same(a: Any, b: Any) -> bool:
    """Whether ``a`` and ``b`` are the same TOML value, written the same: equal, of the same
    types all the way down (``1``, ``1.0`` and ``true`` are equal in Python, not in TOML) and
    with their keys in the same order."""
    if a is b:
        return True
    kind = type(a)
    if kind is not type(b):
        return False
    if kind is dict:
        return len(a) == len(b) and all(
            key_a == key_b and (item_a is item_b or same(item_a, item_b))
            for (key_a, item_a), (key_b, item_b) in zip(a.items(), b.items(), strict=True))
    if kind is list:
        return len(a) == len(b) and all(x is y or same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


class CopyOnRead(dict[str, Any]):
    """A table of tables handed out to be changed: each of its tables is copied (``thaw``) the
    first time it is read, by any means (``[]``, ``get``, ``items``, ``dict(...)``, ``copy``,
    ``|``), so the caller never holds the original. The ones never read stay the original
    objects: unchanged, by identity."""

    __slots__ = ("_originals",)

    def __init__(self, originals: dict[str, Any]) -> None:
        super().__init__(originals)
        self._originals = originals

    def _own(self, key: str) -> Any:
        item = dict.__getitem__(self, key)
        if item is self._originals.get(key):
            item = thaw(item)
            dict.__setitem__(self, key, item)
        return item

    def _own_all(self) -> None:
        for key in list(dict.keys(self)):
            self._own(key)

    def __getitem__(self, key: str) -> Any:
        return self._own(key)

    def __iter__(self) -> Any:
        # Not dict's own iterator: then dict(...), {**...}, update(...), copy() and | read the
        # items through __getitem__ instead of taking the originals from the storage.
        return dict.__iter__(self)

    def get(self, key: str, default: Any = None) -> Any:
        return self._own(key) if key in self else default

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key in self:
            return self._own(key)
        dict.__setitem__(self, key, default)
        return default

    def pop(self, key: str, *default: Any) -> Any:
        if key in self:
            item = self._own(key)
            dict.__delitem__(self, key)
            return item
        if default:
            return default[0]
        raise KeyError(key)

    def popitem(self) -> tuple[str, Any]:
        key = next(reversed(dict.keys(self)))
        return key, self.pop(key)

    def items(self) -> Any:
        self._own_all()
        return dict.items(self)

    def values(self) -> Any:
        self._own_all()
        return dict.values(self)

    def copy(self) -> dict[str, Any]:
        return {key: self._own(key) for key in dict.keys(self)}

    def __reduce_ex__(self, protocol: Any) -> Any:  # copy, deepcopy, pickle: a plain dict
        return dict, (self.copy(),)


def _splits(table: Any) -> bool:
    """Whether a top-level table is written as its tables one after the other."""
    return isinstance(table, Mapping) and bool(table) and all(
        type(item) is dict or isinstance(item, Mapping) for _, item in _raw_items(table))


def _raw_items(table: Mapping[str, Any]) -> Iterable[tuple[str, Any]]:
    """A table's items as stored (a ``CopyOnRead``'s without copying them)."""
    return dict.items(table) if isinstance(table, dict) else table.items()


@dataclass
class Version:
    """One version of the record as written or read: its content (private to its owner, never
    handed out to be changed), the text of each of its pieces dumped so far, and ``public``, the
    same content as the owner's readers share it (never the private objects)."""

    data: dict[str, Any] = field(default_factory=dict)
    texts: dict[Key, bytes] = field(default_factory=dict)
    public: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parsed(cls, data: dict[str, Any], before: Version | None) -> Version:
        """The version read from the file: the texts of the pieces ``before`` had that did not
        change are still good."""
        version = cls(data, public=thaw(data))
        if before is not None:
            version.texts = {key: text for key, text in before.texts.items()
                             if same(version.piece(key), before.piece(key))}
        return version

    def piece(self, key: Key, public: bool = False) -> Any:
        """The value of the piece ``key`` in this version (None if it has none)."""
        value: Any = self.public if public else self.data
        if key == LITERALS:
            return _literals(value)
        for part in key:
            value = value.get(part) if isinstance(value, dict) else None
        return value

    def working_copy(self) -> dict[str, Any]:
        """The content for a caller to change (see ``CopyOnRead``)."""
        return {name: CopyOnRead(value) if _splits(value) else thaw(value)
                for name, value in self.data.items()}


def render(data: Mapping[str, Any], before: Version) -> tuple[bytes, Version]:
    """``data`` as TOML (UTF-8), re-using the text of every piece that is ``same`` as in
    ``before``; and the version that text is."""
    after = Version()
    literals = _literals(data)
    if any(isinstance(value, list | tuple) and any(isinstance(item, Mapping) for item in value)
           for value in literals.values()):
        # An array of tables at the top is written among the tables, not as a piece. The
        # record has none; a file that has one is written whole.
        canonical = plain(data)
        return tomli_w.dumps(canonical).encode(), Version(canonical, public=thaw(canonical))
    # tomli_w puts a blank line between the top-level values and each table that follows.
    chunks = [_piece(LITERALS, literals, before, after)] if literals else []
    for name, table in data.items():
        if not isinstance(table, Mapping):
            continue
        for text in (_pieces(name, table, before, after) if _splits(table)
                     else [_piece((name,), table, before, after)]):
            if chunks:
                chunks.append(b"\n")
            chunks.append(text)
    return b"".join(chunks), after


def _pieces(name: str, table: Mapping[str, Any], before: Version,
            after: Version) -> list[bytes]:
    """The texts of the tables of a table written as its tables (``_piece`` each, but a table
    that is still ``before``'s own object is taken as it is: the common case, made quick)."""
    private, public = before.data.get(name), before.public.get(name)
    if not isinstance(private, dict) or not isinstance(public, dict):
        private = public = {}
    after.data[name], after.public[name] = {}, {}
    texts = []
    for sub, item in _raw_items(table):
        text = before.texts.get((name, sub))
        if text is not None and item is private.get(sub) and sub in public:
            after.texts[(name, sub)] = text
            after.data[name][sub], after.public[name][sub] = item, public[sub]
        else:
            text = _piece((name, sub), item, before, after)
        texts.append(text)
    return texts


def _piece(key: Key, value: Any, before: Version, after: Version) -> bytes:
    """The piece's text; its canonical value (``before``'s own when unchanged) and its public
    copy recorded in ``after``."""
    text = before.texts.get(key)
    previous = before.piece(key)
    if text is not None and same(value, previous):
        public = before.piece(key, public=True)
        if public is None or (key == LITERALS and public.keys() != previous.keys()):
            public = thaw(previous)
        canonical = previous
    else:
        canonical = plain(value)
        nested: Any = canonical
        for part in reversed(key):
            nested = {part: nested}
        text = tomli_w.dumps(nested).encode()
        public = thaw(canonical)
    after.texts[key] = text
    if key == LITERALS:
        after.data.update(canonical)
        after.public.update(public)
    elif len(key) == 1:
        after.data[key[0]], after.public[key[0]] = canonical, public
    else:
        after.data[key[0]][key[1]], after.public[key[0]][key[1]] = canonical, public
    return text


def _literals(data: Mapping[str, Any]) -> dict[str, Any]:
    """The top-level values that are not tables (written first, as ``key = value`` lines)."""
    return {name: value for name, value in data.items()
            if value is not None and not isinstance(value, Mapping)}
