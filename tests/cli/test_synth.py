import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from mlstrat.cli import app
from mlstrat.scenarios import build_digits_manifest

runner = CliRunner()
SHAPE = ["--feature-prefix", "px_", "--image-shape", "1,8,8", "--value-range", "0,16"]


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    t = build_digits_manifest()
    t = t.take(pa.array(np.arange(0, t.num_rows, 3)))
    dom = np.array(t["domain"].to_pylist())
    split = np.where(
        (dom == "app") & (np.arange(len(dom)) % 3 > 0),
        np.where(np.arange(len(dom)) % 3 == 1, "dev", "test"),
        "train",
    )
    path = tmp_path_factory.mktemp("syn") / "digits.parquet"
    pq.write_table(t.append_column("split", pa.array(split)), path)
    return path


def test_like_reports_the_auc_before_and_after(manifest, tmp_path):
    out = tmp_path / "synth.parquet"
    result = runner.invoke(
        app,
        [
            "synth",
            str(manifest),
            "--split",
            "train",
            "--transform",
            "blur,noise",
            "--like",
            "app",
            *SHAPE,
            "--folds",
            "3",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "Synthesized 394 train rows from 394 source rows (1 per row): blur(sigma=" in text
    assert "Domain classifier AUC, target vs training rows: before" in text
    assert "Wrote 993 rows (599 original + 394 synthetic, column synthetic_of)" in text
    t = pq.read_table(out)
    assert t.num_rows == 993 and t["synthetic_of"].null_count == 599


def test_json_with_fixed_params(manifest, tmp_path):
    result = runner.invoke(
        app,
        [
            "synth",
            str(manifest),
            "-t",
            "blur,noise",
            "--param",
            "blur.sigma=0.5,noise.std=0.1",
            *SHAPE,
            "-o",
            str(tmp_path / "s.csv"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    d = json.loads(result.output)
    assert d["params"] == {"blur": {"sigma": 0.5}, "noise": {"std": 0.1}}
    assert d["n_output_rows"] == d["n_input_rows"] + d["n_synthesized"] and d["calibration"] is None


def test_pool_warning_is_shown(manifest, tmp_path):
    from PIL import Image

    pool = tmp_path / "fog"
    pool.mkdir()
    Image.fromarray(np.full((20, 20), 200, dtype=np.uint8)).save(pool / "one.png")
    result = runner.invoke(
        app,
        [
            "synth",
            str(manifest),
            "-t",
            "fog",
            "--pool",
            str(pool),
            *SHAPE,
            "-o",
            str(tmp_path / "s.parquet"),
        ],
    )
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "Warning: small pool: the fog overlay pool (1 images) is reused" in text
    assert "Pool: fog overlay, 1 images, reused" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["-t", "blur,haze"],
            "unknown transform(s) 'haze'; available for images: blur, noise, brightness_contrast, "
            "shift, rotate, fog, hflip, vflip, crop",
        ),
        (
            ["-t", "blur", "--split", "test"],
            "split='test': synthetic rows are appended to 'train' only",
        ),
        (
            ["-t", "blur", "--param", "blur=1"],
            "--param: 'blur' must be transform.parameter (example: blur.sigma=0.8)",
        ),
        (["-t", "blur", "--like", "phone"], "column 'domain' has no rows with value 'phone'"),
    ],
)
def test_bad_input_exits_2(manifest, tmp_path, args, message):
    result = runner.invoke(
        app, ["synth", str(manifest), *args, *SHAPE, "-o", str(tmp_path / "s.parquet")]
    )
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_never_overwrites_the_manifest(manifest):
    result = runner.invoke(
        app, ["synth", str(manifest), "-t", "blur", *SHAPE, "-o", str(manifest), "--force"]
    )
    assert result.exit_code == 2
    assert "the output path is the input file" in result.output


def test_audio_file_that_is_not_audio_exits_2(tmp_path):
    import soundfile as sf

    (tmp_path / "noise").mkdir()
    sf.write(tmp_path / "noise" / "n.wav", np.random.default_rng(0).normal(0, 0.1, 800), 8000)
    (tmp_path / "a.wav").write_text("definitely not audio")
    m = tmp_path / "m.csv"
    m.write_text("id,path,split\na,a.wav,train\n")
    result = runner.invoke(
        app,
        [
            "synth",
            str(m),
            "-t",
            "mix",
            "--audio-col",
            "path",
            "--pool",
            str(tmp_path / "noise"),
            "-o",
            str(tmp_path / "out.csv"),
        ],
    )
    assert result.exit_code == 2
    assert "a.wav: not a readable audio file" in " ".join(result.output.split())
