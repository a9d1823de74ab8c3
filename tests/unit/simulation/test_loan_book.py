"""The tutorial's loan book: a low bad rate, a multi-valued status that maps to the label,
sentinel codes, a 0.0/1.0 flag and free text — what the tutorial declares in its spec."""

from __future__ import annotations

from modelops.simulation.loan_book import (
    BAD_STATUSES,
    GOOD_STATUSES,
    INDETERMINATE,
    UNKNOWN_CREDITS,
    loan_book,
)


def test_the_loan_book_has_the_declared_bad_rate_and_the_awkward_columns() -> None:
    book = loan_book(8000, bad_rate=0.02, seed=3)
    status = book.get_column("loan_status")
    assert set(status.unique()) <= {*BAD_STATUSES, *GOOD_STATUSES, *INDETERMINATE}
    bad_share = status.is_in(BAD_STATUSES).mean()
    assert 0.015 < bad_share < 0.025
    credits = book.get_column("number_of_existing_credits_at_this_bank")
    assert 0.02 < (credits == UNKNOWN_CREDITS).mean() < 0.06
    assert set(book.get_column("has_telephone").unique()) == {"0.0", "1.0"}
    assert book.get_column("employer_title").n_unique() > 5
    assert "creditability" not in book.columns


def test_the_same_seed_gives_the_same_book() -> None:
    assert loan_book(500, seed=11).equals(loan_book(500, seed=11))
    assert not loan_book(500, seed=11).equals(loan_book(500, seed=12))
