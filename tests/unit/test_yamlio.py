"""The fast resource-file loader builds exactly what PyYAML's safe loader builds; duplicates are still errors."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
import yaml

from mlplan.engine.yamlio import YamlError, load_plain

# every kind of scalar the resolver tells apart, quoted and plain, anchors, aliases, merges and explicit tags
DOCUMENT = """\
$schema: https://azuremlschemas.azureedge.net/latest/data.schema.json
name: sales
version: "1"
count: 1
octal: 0o17
old_octal: 017
hexa: 0x1f
float: 1.5
exp: 1e3
inf: .inf
nan_text: ".nan"
yes_text: yes
bool: true
quoted_bool: "true"
null_value: ~
empty:
date: 2026-11-30
stamp: 2026-11-30T10:00:00Z
quoted_date: '2026-11-30'
tagged: !!str 12
tagged_int: !!int "12"
binary: !!binary aGVsbG8=
base: &base {cpu: 2, labels: [a, b]}
derived:
  <<: *base
  cpu: 4
again: *base
list: [1, "1", one, 1.0, null, "", "~"]
1: numeric key
"""


def test_the_fast_loader_builds_what_the_safe_loader_builds(tmp_path: Path) -> None:
    f = tmp_path / "data.yml"
    f.write_text(DOCUMENT)
    expected = yaml.safe_load(DOCUMENT)
    for _ in range(2):  # the second time, scalar tags come from what the first remembered
        got = load_plain(f, "data.yml")
        assert got == expected
        assert [type(v) for v in got.values()] == [type(v) for v in expected.values()]
    assert got["stamp"] == datetime.datetime(2026, 11, 30, 10, 0, tzinfo=datetime.UTC)
    assert got["again"] is got["base"]  # an alias is the same object, as PyYAML makes it
    assert got["derived"] == {"cpu": 4, "labels": ["a", "b"]}


def test_a_duplicate_key_is_an_error_with_its_line(tmp_path: Path) -> None:
    f = tmp_path / "data.yml"
    f.write_text("name: a\ntype: uri_file\nname: b\n")
    with pytest.raises(YamlError) as err:
        load_plain(f, "data.yml")
    assert err.value.diagnostic.line == 3
    assert "duplicate key 'name' (first on line 1)" in err.value.diagnostic.message
