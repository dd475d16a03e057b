"""Free-text agreement: normalisation edge cases, the most-skilled fallback, rows by content."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from taskforce.quality.text import combine_fields, combine_rows, combine_values, normalise


def test_nfc_and_nfd_spellings_agree():
    nfc = unicodedata.normalize("NFC", "Café Müller")
    nfd = unicodedata.normalize("NFD", "Café Müller")
    assert nfc != nfd
    result = combine_values([nfc, nfd, "Cafe Muller"], [1.0, 1.0, 1.0])
    assert result.agreed and result.agreement == pytest.approx(2 / 3)
    assert result.members == (0, 1)


def test_case_and_whitespace_are_ignored_but_the_writers_text_is_returned():
    result = combine_values(["  Hello\tWorld ", "hello world", "HELLO\u00a0 WORLD"], [1.0, 2.0, 1.0])
    assert result.agreement == 1.0
    assert result.value == "hello world"  # the most skilled member's own spelling


def test_casefold_handles_more_than_lower():
    assert normalise("STRASSE") == normalise("straße")
    assert combine_values(["Straße", "STRASSE"], [1.0, 1.0]).agreed


def test_arabic_agrees_across_spacing_but_not_across_different_letters():
    a = "مرحبا  بالعالم"
    b = " مرحبا بالعالم"
    c = "مرحبا بالعالمين"
    result = combine_values([a, b, c], [1.0, 1.0, 1.0])
    assert result.agreement == pytest.approx(2 / 3) and result.members == (0, 1)
    # Diacritics are part of the text: NFC keeps them, so these differ.
    assert normalise("كَتَبَ") != normalise("كتب")


def test_emoji_sequences_compare_whole():
    family = "👨\u200d👩\u200d👧"
    assert combine_values([family, family, "👨👩👧"], [1.0, 1.0, 1.0]).members == (0, 1)
    thumbs = ["👍🏽", "👍🏽", "👍"]
    assert combine_values(thumbs, [1.0, 1.0, 1.0]).value == "👍🏽"


def test_blank_answers_agree_with_each_other():
    result = combine_values(["", "  ", "something"], [1.0, 1.0, 5.0])
    assert result.value in ("", "  ") and result.agreement == pytest.approx(2 / 3)


def test_no_two_agree_falls_back_to_the_most_skilled():
    result = combine_values(["alpha", "beta", "gamma"], [0.5, 2.0, 1.0])
    assert (result.value, result.agreed, result.agreement) == ("beta", False, pytest.approx(1 / 3))
    # On equal weights the earliest answer.
    assert combine_values(["alpha", "beta"], [1.0, 1.0]).value == "alpha"


def test_a_tie_between_groups_goes_to_the_weightier_group():
    result = combine_values(["x", "x", "y", "y"], [1.0, 1.0, 3.0, 0.5])
    assert result.value == "y" and result.agreement == 0.5


def test_one_answer_is_its_own_agreement():
    assert combine_values(["only"], [1.0]).agreement == 1.0
    with pytest.raises(ValueError):
        combine_values([], [])


def test_fields_are_combined_each_on_its_own():
    values, agreement = combine_fields(
        [{"a": "1", "b": "x"}, {"a": "1", "b": "y"}, {"a": "2", "b": "z"}], [1.0, 1.0, 3.0], ["a", "b"])
    assert values == {"a": "1", "b": "z"}
    assert agreement == {"a": pytest.approx(2 / 3), "b": pytest.approx(1 / 3)}


KEYS = ["name", "score"]


def _rows(*pairs):
    return [{"name": n, "score": s} for n, s in pairs]


def test_rows_are_matched_by_content_not_position():
    answers = [
        _rows(("ann", "1"), ("bob", "2"), ("cy", "3")),
        _rows(("Bob", "2"), ("ann", "1"), ("cy", "3")),
        _rows(("cy", "3"), ("bob", "2"), ("ann ", "1")),
    ]
    rows, agreement = combine_rows(answers, [1.0, 1.0, 1.0], KEYS)
    assert [r["name"].strip().lower() for r in rows] == ["ann", "bob", "cy"]
    assert agreement == 1.0


def test_a_row_with_a_typo_still_matches_and_its_cells_are_voted():
    answers = [_rows(("Johnathan", "10")), _rows(("Jonathan", "10")), _rows(("Jonathan", "10"))]
    rows, agreement = combine_rows(answers, [3.0, 1.0, 1.0], KEYS)
    assert rows == [{"name": "Jonathan", "score": "10"}]
    assert agreement == pytest.approx(2 / 3)


def test_a_row_only_a_minority_saw_is_dropped_and_a_majority_row_kept():
    answers = [_rows(("ann", "1"), ("bob", "2")), _rows(("ann", "1")), _rows(("ann", "1"), ("bob", "2"))]
    rows, _ = combine_rows(answers, [1.0, 1.0, 1.0], KEYS)
    assert rows == _rows(("ann", "1"), ("bob", "2"))
    answers = [_rows(("ann", "1"), ("zed", "9")), _rows(("ann", "1")), _rows(("ann", "1"))]
    rows, agreement = combine_rows(answers, [1.0, 1.0, 1.0], KEYS)
    assert rows == _rows(("ann", "1")) and agreement == pytest.approx(2 / 3)


def test_two_answers_split_on_a_row_follow_the_most_skilled():
    answers = [_rows(("ann", "1")), _rows(("ann", "1"), ("bob", "2"))]
    assert combine_rows(answers, [1.0, 2.0], KEYS)[0] == _rows(("ann", "1"), ("bob", "2"))
    assert combine_rows(answers, [2.0, 1.0], KEYS)[0] == _rows(("ann", "1"))


def test_no_rows_anywhere_is_no_rows():
    assert combine_rows([[], []], [1.0, 1.0], KEYS) == ([], 1.0)


def test_zero_weights_count_answers_instead():
    answers = [_rows(("ann", "1")), _rows(("ann", "1")), _rows(("bob", "2"))]
    rows, _ = combine_rows(answers, [0.0, 0.0, 0.0], KEYS)
    assert rows == _rows(("ann", "1"))


def test_normalised_text_is_itself_nfc_even_where_casefold_decomposes():
    assert "ǰ".casefold() != unicodedata.normalize("NFC", "ǰ".casefold())  # casefold decomposes it
    assert normalise("ǰ") == unicodedata.normalize("NFC", normalise("ǰ")) == normalise("J\u030c")


@given(st.lists(st.tuples(st.text(max_size=8), st.floats(0, 5)), min_size=1, max_size=6))
def test_the_combined_value_is_always_one_of_the_answers(pairs):
    values = [v for v, _ in pairs]
    weights = [w for _, w in pairs]
    result = combine_values(values, weights)
    assert result.value in values
    assert 1 / len(values) - 1e-9 <= result.agreement <= 1.0
    assert all(normalise(values[i]) == normalise(result.value) for i in result.members)
