"""The event-pattern language (`fireside.patterns`): AWS's documented examples, malformed
patterns with AWS's reasons, and properties checked with Hypothesis."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fireside.patterns import PatternError, compile_pattern, valid_pattern

EC2_EVENT: dict[str, Any] = {
    "version": "0",
    "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "111122223333",
    "time": "2017-12-22T18:43:48Z",
    "region": "us-west-1",
    "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
    "detail": {
        "instance-id": "i-1234567890abcdef0",
        "state": "terminated",
        "c-count": 5,
        "d-count": 3,
        "x-limit": 301.8,
        "source-ip": "10.0.0.123",
        "FileName": "image.PNG",
        "location": "New York",
        "nothing": None,
        "empty": "",
    },
}

# (pattern, whether it matches EC2_EVENT): the user guide's "Content filtering" examples,
# applied to its EC2 example event (extended with the fields those examples name).
DOCUMENTED: list[tuple[dict[str, Any], bool]] = [
    ({"source": ["aws.ec2"]}, True),
    ({"source": ["aws.ec2", "aws.fsx"]}, True),
    ({"source": ["aws.s3"]}, False),
    ({"time": [{"prefix": "2017-12-22"}]}, True),
    ({"time": [{"prefix": "2017-10-02"}]}, False),
    ({"detail": {"state": [{"prefix": {"equals-ignore-case": "TERM"}}]}}, True),
    ({"detail": {"FileName": [{"suffix": ".png"}]}}, False),
    ({"detail": {"FileName": [{"suffix": {"equals-ignore-case": ".png"}}]}}, True),
    ({"detail": {"state": [{"anything-but": "initializing"}]}}, True),
    ({"detail": {"state": [{"anything-but": "terminated"}]}}, False),
    ({"detail": {"c-count": [{"anything-but": 123}]}}, True),
    ({"detail": {"c-count": [{"anything-but": [5, 6]}]}}, False),
    ({"detail": {"state": [{"anything-but": ["stopped", "overloaded"]}]}}, True),
    ({"detail": {"state": [{"anything-but": {"prefix": "term"}}]}}, False),
    ({"detail": {"FileName": [{"anything-but": {"suffix": ".txt"}}]}}, True),
    ({"detail": {"state": [{"anything-but": {"equals-ignore-case": "TERMINATED"}}]}}, False),
    ({"detail": {"state": [{"anything-but": {"equals-ignore-case": ["a", "b"]}}]}}, True),
    ({"detail": {"FileName": [{"anything-but": {"wildcard": "*.PNG"}}]}}, False),
    (
        {
            "detail": {
                "c-count": [{"numeric": [">", 0, "<=", 5]}],
                "d-count": [{"numeric": ["<", 10]}],
                "x-limit": [{"numeric": ["=", 3.018e2]}],
            }
        },
        True,
    ),
    ({"detail": {"c-count": [{"numeric": [">", 5]}]}}, False),
    ({"detail": {"source-ip": [{"cidr": "10.0.0.0/24"}]}}, True),
    ({"detail": {"source-ip": [{"cidr": "10.0.1.0/24"}]}}, False),
    ({"detail": {"state": [{"exists": True}]}}, True),
    ({"detail": {"no-such": [{"exists": False}]}}, True),
    ({"detail": {"state": [{"exists": False}]}}, False),
    ({"detail": {"nothing": [{"exists": True}]}}, True),
    ({"detail": {"location": [{"equals-ignore-case": "new york"}]}}, True),
    ({"detail": {"FileName": [{"wildcard": "image.*"}]}}, True),
    ({"detail": {"FileName": [{"wildcard": "*.png"}]}}, False),
    ({"detail": {"nothing": [None]}}, True),
    ({"detail": {"no-such": [None]}}, False),
    ({"detail": {"empty": [""]}}, True),
    ({"resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"]}, True),
    (
        {
            "detail": {
                "$or": [
                    {"c-count": [{"numeric": [">", 10]}]},
                    {"d-count": [{"numeric": ["<", 10]}]},
                ]
            }
        },
        True,
    ),
    (
        {"$or": [{"source": ["aws.s3"]}, {"detail": {"state": ["running"]}}]},
        False,
    ),
    ({"source": ["aws.ec2"], "detail": {"state": ["running", "terminated"]}}, True),
    ({"source": ["aws.ec2"], "detail": {"state": ["running"]}}, False),
    ({}, True),
]


@pytest.mark.parametrize(("pattern", "expected"), DOCUMENTED, ids=lambda v: json.dumps(v)[:60])
def test_documented_examples(pattern: dict[str, Any], expected: bool) -> None:
    assert compile_pattern(json.dumps(pattern)).matches(EC2_EVENT) is expected


def test_arrays_match_any_element_and_walk_through_objects() -> None:
    pattern = compile_pattern({"a": {"b": [1]}})
    assert pattern.matches({"a": [{"b": 2}, {"b": 1}]})
    assert not pattern.matches({"a": [{"b": 2}]})
    assert compile_pattern({"tags": ["x"]}).matches({"tags": ["y", "x"]})
    assert not compile_pattern({"tags": [{"exists": True}]}).matches({"tags": []})
    # A pattern's array matches leaf values, never objects.
    assert not compile_pattern({"a": [{"exists": True}]}).matches({"a": {"b": 1}})


def test_fields_in_one_array_of_objects_come_from_one_element() -> None:
    event = {"people": [{"first": "Ann", "last": "Lee"}, {"first": "Bo", "last": "Kim"}]}
    assert compile_pattern({"people": {"first": ["Ann"], "last": ["Lee"]}}).matches(event)
    assert not compile_pattern({"people": {"first": ["Ann"], "last": ["Kim"]}}).matches(event)
    either = {"people": {"$or": [{"first": ["Bo"]}, {"last": ["Lee"]}]}}
    assert compile_pattern(either).matches(event)


def test_anything_but_lists_of_prefixes_and_wildcards() -> None:
    pattern = compile_pattern({"r": [{"anything-but": {"prefix": ["us-", "eu-"]}}]})
    assert pattern.matches({"r": "ap-south-1"})
    assert not pattern.matches({"r": "eu-west-1"})
    pattern = compile_pattern({"f": [{"anything-but": {"wildcard": ["*/lib/*", "*.tmp"]}}]})
    assert pattern.matches({"f": "/src/a.py"})
    assert not pattern.matches({"f": "/x.tmp"})


def test_numbers_compare_as_decimal_values() -> None:
    assert compile_pattern('{"n": [5]}').matches_json('{"n": 5.0}')
    assert compile_pattern('{"n": [300]}').matches_json('{"n": 3e2}')
    assert not compile_pattern('{"n": [5]}').matches_json('{"n": "5"}')
    assert not compile_pattern('{"n": ["5"]}').matches_json('{"n": 5}')
    assert compile_pattern('{"n": [0.1]}').matches({"n": Decimal("0.10")})
    assert not compile_pattern('{"n": [{"numeric": [">", 0.1]}]}').matches_json('{"n": 0.1}')
    assert compile_pattern('{"n": [{"numeric": [">=", 0.1]}]}').matches_json('{"n": 0.1}')
    assert not compile_pattern('{"b": [true]}').matches({"b": 1})
    assert not compile_pattern('{"n": [1]}').matches({"n": True})


def test_wildcard_escapes() -> None:
    assert compile_pattern(r'{"k": [{"wildcard": "a\\*b"}]}').matches({"k": "a*b"})
    assert not compile_pattern(r'{"k": [{"wildcard": "a\\*b"}]}').matches({"k": "axb"})
    assert compile_pattern('{"k": [{"wildcard": "*/lib/*"}]}').matches({"k": "/usr/lib/x"})


def test_anything_but_needs_the_field() -> None:
    assert not compile_pattern({"k": [{"anything-but": "x"}]}).matches({})
    assert compile_pattern({"k": [{"anything-but": "x"}]}).matches({"k": ["x", "y"]})


MALFORMED: list[tuple[str, str]] = [
    ("{bad", "Invalid JSON"),
    ("[1]", "Filter is not an object"),
    ('{"source": "aws.ec2"}', '"source" must be an object or an array'),
    ('{"source": []}', "Empty arrays are not allowed"),
    ('{"source": [[1]]}', "Match value must be String, number, true, false, or null"),
    ('{"source": [{"bogus": 1}]}', "Unrecognized match type bogus"),
    ('{"source": [{"prefix": 1}]}', "prefix match pattern must be a string"),
    ('{"source": [{"suffix": 1}]}', "suffix match pattern must be a string"),
    ('{"source": [{"prefix": "a", "suffix": "b"}]}', "Only one key allowed in match expression"),
    ('{"n": [{"numeric": 5}]}', "Value of numeric must be an array."),
    ('{"n": [{"numeric": ["!", 5]}]}', "Unrecognized numeric range operator: !"),
    ('{"n": [{"numeric": []}]}', "Invalid member in numeric match: ]"),
    ('{"n": [{"numeric": [5]}]}', "Invalid member in numeric match: 5"),
    ('{"n": [{"numeric": ["=", "x"]}]}', "Value of equals must be numeric"),
    ('{"n": [{"numeric": ["<", 5, "<", 6]}]}', "Too many elements in numeric expression"),
    ('{"n": [{"numeric": [">", 5, 6, 7]}]}', "Bad value in numeric range: 6"),
    ('{"n": [{"numeric": [">", 5, "<", 7, 8]}]}', "Too many terms in numeric range expression"),
    ('{"n": [{"numeric": [">", 5, ">", 6]}]}', "Bad numeric range operator: >"),
    ('{"n": [{"numeric": [">", 5, "<", 1]}]}', "Bottom must be less than top"),
    ('{"n": [{"numeric": [">", "a"]}]}', "Value of > must be numeric"),
    ('{"n": [{"exists": "yes"}]}', "exists match pattern must be either true or false."),
    ('{"n": [{"wildcard": "a**"}]}', "Consecutive wildcard characters at pos 2"),
    (
        '{"n": [{"anything-but": [true]}]}',
        "Inside anything but list, start|null|boolean is not supported.",
    ),
    ('{"n": [{"cidr": "10.0.0.300/8"}]}', "Nonstandard IP address: 10.0.0.300"),
    ('{"n": [{"cidr": "10.0.0.1/24"}]}', "Nonstandard IP address: 10.0.0.1"),
    ('{"n": [{"cidr": "10.0.0.0"}]}', "Malformed CIDR, one '/' required"),
    ('{"n": [{"cidr": "10.0.0.0/x"}]}', "Malformed CIDR, mask bits must be an integer"),
    ('{"n": [{"anything-but": {"prefix": ""}}]}', "Null prefix/suffix not allowed"),
    ('{"n": [{"anything-but": {"bogus": "a"}}]}', "Unsupported anything-but pattern: bogus"),
    (
        '{"n": [{"wildcard": "*a*b*c*d*e*f"}]}',
        "Rule is too complex - try using fewer wildcard characters or fewer repeating "
        "character sequences after a wildcard character",
    ),
    ('{"$or": [{"a": [1]}]}', "Or relationship must have at least two alternatives"),
]


@pytest.mark.parametrize(("pattern", "reason"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_patterns_name_aws_reasons(pattern: str, reason: str) -> None:
    assert valid_pattern(pattern) == reason
    with pytest.raises(PatternError) as caught:
        compile_pattern(pattern)
    assert caught.value.message == f"Event pattern is not valid. Reason: {reason}"


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.text(max_size=8),
)


@given(
    st.dictionaries(
        st.text(min_size=1, max_size=5).filter(lambda k: k != "$or"),
        _scalars,
        min_size=1,
        max_size=5,
    )
)
def test_an_event_matches_the_pattern_of_its_own_values(event: dict[str, Any]) -> None:
    pattern = {key: [value] for key, value in event.items()}
    assert compile_pattern(json.dumps(pattern)).matches(event)
    assert compile_pattern({key: [{"exists": True}] for key in event}).matches(event)
    assert not compile_pattern({key: [{"exists": False}] for key in event}).matches(event)


@given(st.text(max_size=10), st.text(max_size=10))
def test_prefix_and_suffix_agree_with_str(value: str, affix: str) -> None:
    event = {"k": value}
    assert compile_pattern({"k": [{"prefix": affix}]}).matches(event) is value.startswith(affix)
    assert compile_pattern({"k": [{"suffix": affix}]}).matches(event) is value.endswith(affix)


@given(st.integers(-100, 100), st.integers(-100, 100), st.integers(-100, 100))
def test_numeric_ranges_agree_with_comparisons(low: int, high: int, value: int) -> None:
    if low >= high:
        return
    pattern = compile_pattern({"n": [{"numeric": [">", low, "<=", high]}]})
    assert pattern.matches({"n": value}) is (low < value <= high)
    assert pattern.matches({"n": float(value)}) is (low < value <= high)


@given(st.text(alphabet="ab*", max_size=6), st.text(alphabet="ab*", max_size=6))
def test_wildcard_agrees_with_fnmatch_on_stars(wildcard: str, value: str) -> None:
    if "**" in wildcard:
        return
    import fnmatch

    expected = fnmatch.fnmatchcase(value, wildcard.replace("[", "[[]"))
    assert compile_pattern({"k": [{"wildcard": wildcard}]}).matches({"k": value}) is expected
