"""``flask openapi write FILE``: the document for client generators, or one clear error line."""

from __future__ import annotations

import json

import pytest
import yaml
from openapi_spec_validator import validate

from tests.docs.docs_helpers import OPERATION_COUNT


@pytest.fixture
def cli(docs_app):
    return docs_app.test_cli_runner()


def test_write_json_file_with_the_chosen_server(cli, tmp_path):
    """The file is the valid document; servers is the --server given."""
    target = tmp_path / "openapi.json"
    result = cli.invoke(args=["openapi", "write", str(target), "--server", "https://stock.example.com"])
    assert result.exit_code == 0, result.output
    document = json.loads(target.read_text())
    validate(document)
    assert document["servers"][0]["url"] == "https://stock.example.com"
    assert len(document["paths"]) == OPERATION_COUNT  # one path per operation, all GET
    assert list(tmp_path.iterdir()) == [target]


def test_write_yaml_by_suffix_and_json_to_stdout(cli, tmp_path):
    """.yaml/.yml writes YAML; ``-`` writes JSON to standard output; both the same document."""
    target = tmp_path / "openapi.yml"
    assert cli.invoke(args=["openapi", "write", str(target)]).exit_code == 0
    from_yaml = yaml.safe_load(target.read_text())
    printed = cli.invoke(args=["openapi", "write", "-"])
    assert printed.exit_code == 0
    assert json.loads(printed.stdout) == from_yaml
    assert from_yaml["servers"][0]["url"] == "http://127.0.0.1:5000"


@pytest.mark.parametrize("where", ["missing-dir/openapi.json", "."])
def test_unwritable_file_is_one_error_line_and_nothing_written(cli, tmp_path, where):
    """A path in a missing directory, or a directory itself: one line on stderr, exit 1, no debris."""
    target = tmp_path / where
    before = sorted(tmp_path.rglob("*"))
    result = cli.invoke(args=["openapi", "write", str(target)])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: cannot write")
    assert sorted(tmp_path.rglob("*")) == before


def test_missing_file_argument_is_one_line(cli):
    """Usage errors are one line too, not a usage screen."""
    result = cli.invoke(args=["openapi", "write"])
    assert result.exit_code != 0
    assert len(result.stderr.strip().splitlines()) == 1


def test_write_defaults_to_the_public_base_url(docs_app, cli, tmp_path):
    """Without --server, a configured PUBLIC_BASE_URL is the document's server."""
    docs_app.config["PUBLIC_BASE_URL"] = "https://stock.example.com"
    target = tmp_path / "openapi.json"
    assert cli.invoke(args=["openapi", "write", str(target)]).exit_code == 0
    assert json.loads(target.read_text())["servers"] == [{"url": "https://stock.example.com"}]
