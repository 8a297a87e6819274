"""Object storage and ``file://`` URIs: a folder on S3 is asked of delta-rs (a Delta table there is
read as its live files), a storage that cannot be reached is one line naming the path and the fix,
and local ``file://`` URIs read as their paths. Nothing here leaves the machine: the S3 endpoint
and the instance-metadata endpoint are a closed port on loopback."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from mlstrat._exceptions import InputError
from mlstrat.cli import app
from mlstrat.tables import read_table
from tests.tables.test_delta import delta_with_history
from tests.tables.test_remote_outputs import no_duckdb_extensions  # noqa: F401  (autouse: no httpfs here)

#: port 1 on loopback: nothing listens there, a connection is refused at once
_CLOSED = "http://127.0.0.1:1"
_S3_FIX = ("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), AWS_REGION, and AWS_ENDPOINT_URL "
           "for a storage other than AWS; check that the bucket and the endpoint are reachable")


@pytest.fixture
def offline_s3(monkeypatch, tmp_path):
    """An S3 configuration whose every endpoint is the closed loopback port: no credential provider
    can reach the network (instance metadata, container credentials, web identity, profiles)."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                 "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", _CLOSED)
    monkeypatch.setenv("AWS_METADATA_ENDPOINT", _CLOSED)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ALLOW_HTTP", "true")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    return monkeypatch


@pytest.mark.parametrize("uri", ["s3://bucket/preds", "s3a://bucket/lake/preds/"])
def test_a_folder_on_an_unreachable_s3_endpoint_is_one_line(offline_s3, uri):
    offline_s3.setenv("AWS_ACCESS_KEY_ID", "test")
    offline_s3.setenv("AWS_SECRET_ACCESS_KEY", "test")
    result = CliRunner().invoke(app, ["metrics", uri])
    assert result.exit_code == 2
    line = " ".join(result.output.split())
    assert line.startswith(f"Error: {uri}: the storage cannot be read by deltalake (")
    assert "Connection refused" in line and f"at {_CLOSED}/bucket/" in line
    assert line.endswith(_S3_FIX)
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) <= 3  # one wrapped line


def test_no_credentials_is_one_line_naming_the_fix(offline_s3):
    with pytest.raises(InputError) as caught:
        read_table("s3://bucket/preds")
    message = str(caught.value)
    assert message.startswith("s3://bucket/preds: the storage cannot be read by deltalake (")
    assert f"at {_CLOSED}/latest/api/token" in message  # the credential chain asked the (closed) metadata endpoint
    assert message.endswith(_S3_FIX) and "\n" not in message


def test_a_uri_with_a_file_suffix_is_not_asked_of_deltalake(offline_s3):
    offline_s3.setenv("AWS_ACCESS_KEY_ID", "test")
    offline_s3.setenv("AWS_SECRET_ACCESS_KEY", "test")
    with pytest.raises(InputError) as caught:  # DuckDB's own error: no httpfs here, and none downloaded
        read_table("s3://bucket/preds.parquet")
    assert "deltalake" not in str(caught.value)
    assert str(caught.value).startswith("s3://bucket/preds.parquet: cannot be read as PARQUET")


def _metrics(source: str) -> dict:
    result = CliRunner().invoke(app, ["metrics", source, "--json"])
    assert result.exit_code == 0, result.output
    return {key: value for key, value in json.loads(result.stdout).items() if key != "source"}


def test_file_uris_of_a_delta_table_and_a_parquet_file(tmp_path):
    live = delta_with_history(tmp_path / "preds")
    pq.write_table(live, tmp_path / "live.parquet")
    of_path = _metrics(str(tmp_path / "live.parquet"))
    assert _metrics((tmp_path / "preds").as_uri()) == of_path
    assert _metrics((tmp_path / "live.parquet").as_uri()) == of_path
    assert sum(split["n"] for split in of_path["splits"].values()) == 270
