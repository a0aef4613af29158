"""Spec files are parsed with libyaml's safe loader (a run reads the source specs dozens of times): the
same values as PyYAML's pure-Python safe loader, and bad YAML still a one-line error naming the file."""
from __future__ import annotations

import datetime

import pytest
import yaml

from gutaxis import GutaxisError, specs


def test_specs_are_parsed_by_libyaml_when_pyyaml_has_it():
    if not yaml.__with_libyaml__:
        pytest.skip("this PyYAML was built without libyaml")
    assert specs.SAFE_LOADER is yaml.CSafeLoader


def test_the_fast_loader_reads_a_spec_as_the_pure_python_safe_loader_does(tmp_path):
    text = ("name: study-a\nformat: tabular\npath: ../raw/a.tsv\ncomposition: fndds-2017-2018\ndelimiter: \"\\t\"\n"
            "columns: {participant_id: SEQN, recall_day: Day}\nshards: auto\ncollected: 2026-01-05\n"
            "fasting: yes\nlod: 1.5e-3\ncode: 0012\nlist: [1, 2.0, null, ~, 'x']\n")
    path = tmp_path / "a.yaml"
    path.write_text(text, encoding="utf-8")
    loaded = specs._load_yaml(path)
    assert loaded == yaml.load(text, Loader=yaml.SafeLoader)
    assert loaded["collected"] == datetime.date(2026, 1, 5) and loaded["fasting"] is True and loaded["code"] == 0o12  # YAML 1.1 octal, in both loaders


def test_bad_yaml_is_still_one_line_naming_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: [a, b\nformat: tabular\n", encoding="utf-8")
    with pytest.raises(GutaxisError) as caught:
        specs._load_yaml(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: not valid YAML (") and message.endswith("fix the syntax") and "\n" not in message
