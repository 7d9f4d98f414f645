"""The import's fast e-mail check agrees with Django's ``validate_email``."""

import pytest
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from leads.importing import COMMON_EMAIL, is_email

ADDRESSES = [
    # the common shape: accepted by the precompiled pattern alone
    "ana@x.example",
    "Ana.Lima+crm@Mail.Example.COM",
    "o_brien-1@sub-domain.example.co",
    "a@b.cd",
    # valid, but only validate_email knows: quoted local part, IDN, literal, allowlist
    '"ana..lima"@x.example',
    "ana@münchen.example",
    "ana@[192.168.0.1]",
    "ana@localhost",
    "ana!#$%&'*/=?^`{|}~@x.example",
    "ana@xn--mnchen-3ya.example",
    # invalid
    "",
    "ana",
    "ana@",
    "@x.example",
    "ana@@x.example",
    "ana..lima@x.example",
    ".ana@x.example",
    "ana.@x.example",
    "ana@x",
    "ana@-x.example",
    "ana@x-.example",
    "ana@x..example",
    "ana@x.example.",
    "ana@x.e",
    "ana@x.123",
    "ana lima@x.example",
    '"ana lima"@x.example',  # a space must be escaped in quotes
    "ana@x.example\n",
    "ana@[999.1.1.1]",
    "a" * 64 + "@" + "b" * 64 + ".example",
]


def _django_accepts(value: str) -> bool:
    try:
        validate_email(value)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("address", ADDRESSES)
def test_import_email_check_agrees_with_validate_email(address):
    assert is_email(address) == _django_accepts(address)


@pytest.mark.parametrize("address", ADDRESSES)
def test_fast_pattern_accepts_only_what_validate_email_accepts(address):
    if COMMON_EMAIL.fullmatch(address):
        assert _django_accepts(address)


def test_fast_pattern_covers_the_usual_addresses():
    assert COMMON_EMAIL.fullmatch("import.123@b1.import.example")
    assert COMMON_EMAIL.fullmatch("First.Last+tag@mail.example.co.uk")
