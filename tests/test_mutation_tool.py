"""The mutation pass itself (tests/mutation.py): how a guard line is disabled, and that every
marked guard has tests named for it."""

import ast

import pytest

from . import mutation

SOURCE = '''def f(x, log):
    if x > 3:  # guard: a
        raise ValueError("too big")
    while x:  # guard: b
        x -= 1
    log.append(x)  # guard: c
    return (x +
            1)  # not a statement start
'''


def test_an_if_header_becomes_if_false_and_keeps_its_block():
    mutated = mutation.disable(SOURCE, 2)
    assert "    if False:  # mutation\n        raise ValueError" in mutated
    ast.parse(mutated)


def test_a_while_header_becomes_while_false():
    assert "    while False:  # mutation\n        x -= 1" in mutation.disable(SOURCE, 4)


def test_a_statement_becomes_pass():
    mutated = mutation.disable(SOURCE, 6)
    assert "    pass  # mutation\n" in mutated and "log.append" not in mutated


def test_a_line_inside_a_statement_is_refused():
    with pytest.raises(ValueError, match="does not start a statement"):
        mutation.disable(SOURCE, 8)


def test_every_marked_guard_has_tests_and_every_entry_a_guard():
    names = {g.name for g in mutation.find_guards()}
    assert names, "no '# guard:' marks found in the product"
    assert names == set(mutation.GUARD_TESTS), (
        f"unmapped guards: {sorted(names - set(mutation.GUARD_TESTS))}; "
        f"entries without a guard: {sorted(set(mutation.GUARD_TESTS) - names)}")
