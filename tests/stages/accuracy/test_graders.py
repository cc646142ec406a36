"""The three graders on the strings that trip graders up: separators, signs, decimals, dollars, boxes, cuts."""

from __future__ import annotations

import pytest

from tui.stages.accuracy.dataset import reference_of
from tui.stages.accuracy.graders import extract, is_correct, last_number, without_thousands_separators


@pytest.mark.parametrize(("reply", "aisbench", "lm_eval", "boxed"), [
    ("The answer is 18", "18", "18", "18"),
    ("She makes 9 * 2 = $18 every day.", "18", "18", "18"),
    ("Total: 1,234,567 apples", "1234567", "1234567", "1234567"),
    ("The answer is $1,600.", "1600", "1600", "1600"),
    ("#### 2,125", "2125", "2125", "2125"),
    ("It falls to -5 degrees", "-5", "-5", "-5"),
    ("The answer is -12.", "-12", "-12", "-12"),
    ("The answer is 5.00", "5.00", "5.00", "5.00"),
    ("0.5 of 10 is 5.", "5", "5", "5"),
    ("The answer is 18.\nQuestion: Tom has 4 apples\nAnswer: The answer is 4", "18", "18", "18"),
    ("The answer is 7. Then 3,4 more", "4", "7", "7"),  # a comma that is no thousands separator
    ("pairs 3,4", "4", "34", "4"),  # lm-eval's flexible pattern removes every comma
    ("\\boxed{1{,}000} after 2 tries", "2", "2", "1000"),
    ("\\boxed{\\$1,000} after 2 tries", "2", "2", "1000"),
    ("\\boxed{\\text{12 cups}} of 3", "3", "3", "12"),
    ("\\boxed{x} The final answer is 44, after 3", "3", "3", "44"),
    ("The answer is 10, oh no it is 12", "12", "10", "10"),
    ("#### 40\nchecked twice, 2 ways", "2", "40", "40"),
    ("First 72. The answer is 90. Then The answer is 91", "91", "90", "91"),
    ("no number here", None, None, None),
    ("...", None, None, None),
    ("", None, None, None),
])
def test_what_each_grader_reads(reply: str, aisbench: str | None, lm_eval: str | None, boxed: str | None) -> None:
    assert extract("aisbench", reply).value == aisbench
    assert extract("lm-eval", reply).value == lm_eval
    assert extract("boxed", reply).value == boxed


def test_the_rule_that_found_the_answer_is_named() -> None:
    assert extract("boxed", "\\boxed{3}").rule == "boxed"
    assert extract("boxed", "The answer is 3").rule == "answer phrase"
    assert extract("lm-eval", "so 3").rule == "last number"
    assert extract("aisbench", "none").rule is None


@pytest.mark.parametrize(("extracted", "reference", "right"), [
    ("5.00", "5", True), ("5", "5", True), ("-3", "-3", True), ("3", "-3", False), ("18.0000001", "18", True),
    ("18.01", "18", False), ("1000", "1000", True), (None, "5", False), ("abc", "5", False), ("NaN", "5", False),
    ("Infinity", "5", False),
])
def test_answers_compare_numerically(extracted: str | None, reference: str, right: bool) -> None:
    assert is_correct(extracted, reference) is right


def test_thousands_separators_only() -> None:
    assert without_thousands_separators("1,234,567.89 and 3,4 and 12,3456") == "1234567.89 and 3,4 and 12,3456"
    assert last_number("It costs $1,000.") == "1000"


def test_the_reference_is_after_the_hashes_without_commas() -> None:
    assert reference_of("Step 1\n#### 1,600") == "1600"
    assert reference_of("#### -3") == "-3"
    with pytest.raises(ValueError):
        reference_of("no hashes")
    with pytest.raises(ValueError):
        reference_of("#### twelve")
