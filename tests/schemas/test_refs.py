"""The reference grammar of DESIGN §3: parse_template, format_template, iter_refs."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planexec.schemas import (
    Ref,
    ReferenceSyntaxError,
    RefKind,
    Template,
    format_ref,
    format_template,
    iter_refs,
    parse_template,
)

OUT, ERR, INP = RefKind.OUTPUT, RefKind.ERROR, RefKind.INPUTS


# --- whole references and interpolation ------------------------------------------------


def test_exact_reference_is_whole() -> None:
    template = parse_template("$<fetch.output>")
    assert template.whole == Ref(OUT, "fetch", (), 0, 15)
    assert template.parts == (template.whole,)
    assert template.refs == (template.whole,)
    assert not template.is_literal


def test_reference_inside_text_is_interpolated() -> None:
    template = parse_template("Sales for $<inputs.quarter>!")
    assert template.whole is None
    assert template.parts == ("Sales for ", Ref(INP, None, ("quarter",), 10, 27), "!")


@pytest.mark.parametrize("text", ["$<a.output> ", " $<a.output>", "$<a.output>$<a.output>", "x"])
def test_reference_with_anything_around_it_is_not_whole(text: str) -> None:
    assert parse_template(text).whole is None


def test_adjacent_references_have_no_literal_between() -> None:
    assert parse_template("$<a.output>$<b.error>").parts == (
        Ref(OUT, "a", (), 0, 11),
        Ref(ERR, "b", (), 11, 21),
    )


def test_reference_spans_index_the_original_text() -> None:
    text = "a $$< b $<x.output.k[3]> c $<inputs> d"
    for ref in parse_template(text).refs:
        assert text[ref.start : ref.end] == format_ref(ref)


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("$<a.output.rows>", Ref(OUT, "a", ("rows",))),
        ("$<a.output.rows[0].name>", Ref(OUT, "a", ("rows", 0, "name"))),
        ("$<a.output[2][3]>", Ref(OUT, "a", (2, 3))),
        ("$<a.output.0>", Ref(OUT, "a", ("0",))),
        ("$<a.output[0]>", Ref(OUT, "a", (0,))),
        ("$<a.output.b-c_D9>", Ref(OUT, "a", ("b-c_D9",))),
        ("$<a.output[999999999999999999]>", Ref(OUT, "a", (999999999999999999,))),
        ("$<a.error>", Ref(ERR, "a", ())),
        ("$<a.error.message>", Ref(ERR, "a", ("message",))),
        ("$<inputs>", Ref(INP, None, ())),
        ("$<inputs.quarter>", Ref(INP, None, ("quarter",))),
        ("$<inputs[0]>", Ref(INP, None, (0,))),
        ("$<inputs.output>", Ref(INP, None, ("output",))),
        ("$<inputs-x.output>", Ref(OUT, "inputs-x", ())),
        ("$<_a-b.output>", Ref(OUT, "_a-b", ())),
        ("$<" + "t" * 64 + ".output>", Ref(OUT, "t" * 64, ())),
    ],
)
def test_reference_roots_and_paths(text: str, ref: Ref) -> None:
    whole = parse_template(text).whole
    assert whole is not None
    assert (whole.kind, whole.task, whole.path) == (ref.kind, ref.task, ref.path)
    assert [type(p) for p in whole.path] == [type(p) for p in ref.path]
    assert format_ref(whole) == str(whole) == text


def test_dot_digit_is_a_key_and_bracket_digit_an_index() -> None:
    (dot,) = parse_template("$<a.output.0>").refs
    (bracket,) = parse_template("$<a.output[0]>").refs
    assert dot.path == ("0",) and bracket.path == (0,)


# --- escapes and literals ----------------------------------------------------------------


def test_dollar_dollar_escape_is_a_literal() -> None:
    template = parse_template("$$<a.output>")
    assert template.parts == ("$<a.output>",)
    assert template.is_literal and template.refs == ()


def test_escape_then_reference() -> None:
    assert parse_template("$$<$<a.output>").parts == ("$<", Ref(OUT, "a", (), 3, 14))


def test_escape_merges_with_adjacent_literals() -> None:
    assert parse_template("price $$<x> and $<a.output>").parts == (
        "price $<x> and ",
        Ref(OUT, "a", (), 16, 27),
    )


@pytest.mark.parametrize(
    ("text", "literal"),
    [
        ("$", "$"),
        ("$$", "$$"),
        ("costs $5", "costs $5"),
        ("a$b", "a$b"),
        ("<a.output>", "<a.output>"),
        ("$$<", "$<"),
        ("$$$<a.output>", "$$<a.output>"),
        ("$$$$<", "$$$<"),
        ("${a.output}", "${a.output}"),
    ],
)
def test_text_without_a_reference_is_one_literal(text: str, literal: str) -> None:
    template = parse_template(text)
    assert template.parts == (literal,)
    assert template.is_literal and template.whole is None
    assert format_template(template) == text


def test_empty_string_has_no_parts() -> None:
    assert parse_template("").parts == ()
    assert format_template(Template(())) == ""


def test_format_template_escapes_literal_dollar_angle() -> None:
    assert format_template(Template(("a $< b ", Ref(INP, None, ("x",))))) == "a $$< b $<inputs.x>"


@pytest.mark.parametrize(
    ("ref", "text"),
    [
        (Ref(OUT, "t", ()), "$<t.output>"),
        (Ref(ERR, "t", ("code",)), "$<t.error.code>"),
        (Ref(INP, None, ("a", 0, "b", 12)), "$<inputs.a[0].b[12]>"),
    ],
)
def test_format_ref(ref: Ref, text: str) -> None:
    assert format_ref(ref) == text


# --- syntax errors, each with the column at fault -----------------------------------------

SYNTAX_ERRORS = [
    ("$<", 2),  # no root
    ("$<>", 2),
    ("$<1a.output>", 2),  # a task id cannot start with a digit
    ("x $<.output>", 4),
    ("$<é.output>", 2),
    ("$<a>", 3),  # root without .output/.error
    ("$<a", 3),
    ("$<a[0]>", 3),
    ("$<a.outputs>", 4),  # field must be output or error, reported where the field starts
    ("$<a.result>", 4),
    ("$<a.>", 4),
    ("$<a.output", 10),  # unterminated
    ("$<inputs", 8),
    ("$<inputsx>", 9),  # "inputsx" is a task id, so it needs .output
    ("$<a.output.>", 11),  # empty key
    ("$<a.output..b>", 11),
    ("$<inputs.>", 9),
    ("$<a.output.é>", 11),
    ("$<a.output[x]>", 11),  # index not an integer
    ("$<a.output[]>", 11),
    ("$<a.output[-1]>", 11),
    ("$<a.output[01]>", 11),  # leading zero: would not round-trip
    ("$<a.output[" + "9" * 19 + "]>", 11),  # index past 18 digits
    ("$<a.output[" + "9" * 5000 + "]>", 11),  # int() would refuse this with a plain ValueError
    ("$<a.output[1>", 12),  # unclosed index
    ("$<a.output[1", 12),
    ("$<a.output x>", 10),  # unexpected character
    ("$<a.output.b!>", 12),
    ("$<" + "a" * 65 + ".output>", 66),  # first character past the 64 allowed
    ("ok $<a.output> then $<b>", 23),  # the first malformed reference, after a good one
    ("$$< fine, $< bad", 12),
]


@pytest.mark.parametrize(("text", "position"), SYNTAX_ERRORS)
def test_syntax_error_reports_its_column(text: str, position: int) -> None:
    with pytest.raises(ReferenceSyntaxError) as caught:
        parse_template(text)
    assert caught.value.position == position
    assert caught.value.text == text
    assert isinstance(caught.value, ValueError)


def test_every_syntax_error_example_is_distinct() -> None:
    texts = [text for text, _ in SYNTAX_ERRORS]
    assert len(texts) == len(set(texts))


# --- properties -------------------------------------------------------------------------

_TASK_IDS = st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,63}", fullmatch=True).filter(lambda s: s != "inputs")
_KEYS = st.from_regex(r"[A-Za-z0-9_-]{1,12}", fullmatch=True)
_INDICES = st.integers(min_value=0, max_value=20) | st.integers(min_value=0, max_value=10**18 - 1)
_PATHS = st.lists(_KEYS | _INDICES, max_size=4).map(tuple)
_REFS = st.builds(
    lambda kind, task, path: Ref(kind, None if kind is INP else task, path),
    st.sampled_from(list(RefKind)),
    _TASK_IDS,
    _PATHS,
)
# Literal chunks without "$": the chunk list then determines the parse exactly.
_PLAIN = st.text(st.characters(blacklist_characters="$"), min_size=1, max_size=10)
_ESCAPE = st.just("$$<")


@st.composite
def well_formed(draw: st.DrawFn) -> tuple[str, list[Ref]]:
    chunks = draw(st.lists(_PLAIN | _ESCAPE | _REFS, max_size=8))
    refs = [c for c in chunks if isinstance(c, Ref)]
    return "".join(format_ref(c) if isinstance(c, Ref) else c for c in chunks), refs


@settings(max_examples=300, deadline=None)
@given(well_formed())
def test_well_formed_text_parses_to_the_refs_it_was_built_from(case: tuple[str, list[Ref]]) -> None:
    text, refs = case
    template = parse_template(text)
    assert [(r.kind, r.task, r.path) for r in template.refs] == [(r.kind, r.task, r.path) for r in refs]
    for ref in template.refs:
        assert text[ref.start : ref.end] == format_ref(ref)
    assert format_template(template) == text
    assert all(part != "" for part in template.parts)
    # adjacent literals are merged
    assert not any(
        isinstance(a, str) and isinstance(b, str)
        for a, b in zip(template.parts, template.parts[1:], strict=False)
    )


_NOISE = st.sampled_from(
    [
        "$",
        "$$",
        "<",
        ">",
        "$<",
        ".",
        "[",
        "]",
        "[0",
        "[01]",
        "[7]",
        ".k",
        ".output",
        "inputs",
        "$<a.output",
        "é",
        "\n",
    ]
)


@st.composite
def near_refs(draw: st.DrawFn) -> str:
    """A well-formed reference with one character inserted, deleted or replaced."""
    text = format_ref(draw(_REFS))
    # Prefer the seams between tokens, where the grammar decides most.
    seams = [i + 1 for i, c in enumerate(text) if c in "<.[]"] + [len(text) - 1]
    at = draw(st.sampled_from(seams) | st.integers(min_value=0, max_value=len(text) - 1))
    char = draw(st.sampled_from("$<>.[]0a-é \n"))
    operation = draw(st.sampled_from(["insert", "delete", "replace"]))
    if operation == "insert":
        return text[:at] + char + text[at:]
    return text[:at] + ("" if operation == "delete" else char) + text[at + 1 :]


_ANY_CHUNK = _PLAIN | _ESCAPE | _REFS.map(format_ref) | near_refs() | _NOISE | st.text(max_size=6)


@settings(max_examples=400, deadline=None)
@given(st.lists(_ANY_CHUNK, max_size=10).map("".join) | st.text())
def test_parse_round_trips_or_raises_only_reference_syntax_error(text: str) -> None:
    try:
        template = parse_template(text)
    except ReferenceSyntaxError as error:
        assert error.text == text
        assert 0 <= error.position <= len(text)
        return
    assert format_template(template) == text
    for ref in template.refs:
        assert text[ref.start : ref.end] == format_ref(ref)


# --- iter_refs ---------------------------------------------------------------------------


def test_iter_refs_yields_templates_and_errors_in_document_order() -> None:
    value: Any = {
        "a": "$<x.output>",
        "b": [1, "plain", {"c": "pre $<inputs.q> post"}, None, True, 2.5],
        "d": {"e": "$$<escaped, not a reference>"},
        "f": "$<bad",
        "$<key.output>": "keys are not values",
        "g": ["$<y.error>", "$<", "$<z.output[0]>"],
    }
    found = list(iter_refs(value))
    assert [location for location, _ in found] == [
        ("a",),
        ("b", 2, "c"),
        ("f",),
        ("g", 0),
        ("g", 1),
        ("g", 2),
    ]
    kinds = [type(item) for _, item in found]
    assert kinds == [Template, Template, ReferenceSyntaxError, Template, ReferenceSyntaxError, Template]
    errors = [item for _, item in found if isinstance(item, ReferenceSyntaxError)]
    assert [(e.text, e.position) for e in errors] == [("$<bad", 5), ("$<", 2)]
    first = found[0][1]
    assert isinstance(first, Template) and first.whole == Ref(OUT, "x", (), 0, 11)


def test_iter_refs_on_a_bare_string_uses_the_empty_location() -> None:
    assert [loc for loc, _ in iter_refs("$<a.output>")] == [()]
    assert list(iter_refs("no references")) == []
    assert list(iter_refs(42)) == []
    assert list(iter_refs(None)) == []


def test_iter_refs_does_not_recurse_on_deep_nesting() -> None:
    depth = 10_000
    value: Any = "$<a.output>"
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    ((location, template),) = list(iter_refs(value))
    assert len(location) == depth
    assert location[:2] == (0, "k")  # the outermost level is a list
    assert isinstance(template, Template) and template.whole is not None
