"""The error tree drawn in ``teleop/errors.py`` is the tree the package has."""

from __future__ import annotations

import importlib
import pkgutil
import re

import teleop
from teleop import errors
from teleop.errors import TeleopError


def _all_subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub} | _all_subclasses(sub)
    return found


def test_every_teleop_error_is_drawn_under_its_parent() -> None:
    for module in pkgutil.walk_packages(teleop.__path__, "teleop."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    tree = errors.__doc__ or ""
    assert "\n    TeleopError\n" in tree
    drawn = re.findall(r"^ {4}((?:[│ ] {3})*)[├└]── (\w+Error)\b", tree, re.MULTILINE)
    depth = {"TeleopError": 0} | {name: len(indent) // 4 + 1 for indent, name in drawn}
    classes = {c for c in _all_subclasses(TeleopError) if c.__module__.startswith("teleop.")}
    assert {c.__name__ for c in classes} | {"TeleopError"} == set(depth)
    for c in classes:
        parent = next(b for b in c.__mro__[1:] if issubclass(b, TeleopError))
        assert depth[c.__name__] == depth[parent.__name__] + 1, c.__name__
