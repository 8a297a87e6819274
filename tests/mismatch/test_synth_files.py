import re

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pytest
import soundfile as sf
from PIL import Image

from mlstrat import InputError, MlstratWarning
from mlstrat.mismatch import synthesize
from mlstrat.mismatch._files import mix_at_snr

RATE = 8000


def _image_manifest(tmp_path, n=12):
    (tmp_path / "img").mkdir()
    rng = np.random.default_rng(0)
    paths, domains, splits = [], [], []
    for i in range(n):
        arr = np.zeros((16, 20, 3), dtype=np.uint8)
        arr[4:12, 5:15] = rng.integers(120, 256, size=3)
        app = i >= n // 2
        img = Image.fromarray(arr)
        if app:
            from PIL import ImageFilter

            img = img.filter(ImageFilter.GaussianBlur(1.2))
        img.save(tmp_path / "img" / f"{i}.png")
        paths.append(f"img/{i}.png")
        domains.append("app" if app else "web")
        splits.append("dev" if app and i % 2 else "train")
    t = pa.table(
        {
            "id": [f"r{i}" for i in range(n)],
            "path": paths,
            "domain": domains,
            "split": splits,
            "group": [f"g{i}" for i in range(n)],
        }
    )
    pcsv.write_csv(t, tmp_path / "m.csv")
    return tmp_path / "m.csv", t


def test_image_files_are_written_next_to_the_output(tmp_path):
    manifest, t = _image_manifest(tmp_path)
    out = tmp_path / "out" / "synth.csv"
    out.parent.mkdir()
    r = synthesize(
        manifest, image_col="path", transforms=["blur", "noise"], like="app", output=out, folds=2
    )
    assert r.kind == "image_files" and r.n_synthesized == 6  # the web train rows
    assert r.files_dir == str(out.parent / "synth_files")
    written = pcsv.read_csv(out)
    new = written.slice(t.num_rows)
    for rel in new["path"].to_pylist():
        assert rel.startswith("synth_files/")
        img = np.asarray(Image.open(out.parent / rel))
        assert img.shape == (16, 20, 3) and img.dtype == np.uint8
    assert written.slice(0, t.num_rows)["path"].to_pylist() == t["path"].to_pylist()
    assert r.auc_before is not None and r.calibration is not None


def test_missing_image_files_are_counted(tmp_path):
    manifest, _ = _image_manifest(tmp_path)
    (tmp_path / "img" / "0.png").unlink()
    (tmp_path / "img" / "2.png").unlink()
    with pytest.raises(
        InputError,
        match=r"m.csv: 2 of 9 path\(s\) in column 'path' do not exist \(relative paths "
        r"are looked up in .* and the working directory\), e.g. img/0.png, "
        r"img/2.png; fix the paths or the column$",
    ):
        synthesize(manifest, image_col="path", transforms=["blur"], output=tmp_path / "o.csv")


def _wav(path, seconds, freq=None, amp=0.1, seed=0):
    t = np.arange(int(seconds * RATE)) / RATE
    data = (
        amp * np.sin(2 * np.pi * freq * t)
        if freq
        else np.random.default_rng(seed).normal(0, 0.3, len(t))
    )
    sf.write(path, data, RATE)


def _audio_manifest(tmp_path, n=10, seconds=0.5):
    (tmp_path / "clean").mkdir()
    (tmp_path / "noise").mkdir()
    for i in range(n):
        _wav(tmp_path / "clean" / f"{i}.wav", seconds, freq=200 + 20 * i)
    _wav(tmp_path / "noise" / "car.wav", 0.2)
    t = pa.table(
        {
            "id": [f"a{i}" for i in range(n)],
            "audio": [f"clean/{i}.wav" for i in range(n)],
            "split": ["train"] * (n - 2) + ["dev", "test"],
            "group": [f"s{i}" for i in range(n)],
        }
    )
    pcsv.write_csv(t, tmp_path / "m.csv")
    return tmp_path / "m.csv", t


def test_mix_at_snr_hits_the_requested_ratio():
    rng = np.random.default_rng(0)
    clean = 0.1 * np.sin(np.linspace(0, 200, 4000))[:, None]
    noise = rng.normal(0, 1, size=(1000, 1))
    mixed = mix_at_snr(clean, noise, 12.0, rng)
    snr = 10 * np.log10(np.mean(clean**2) / np.mean((mixed - clean) ** 2))
    assert snr == pytest.approx(12.0, abs=1e-9)


def test_audio_is_mixed_at_the_snr_and_the_small_pool_warns(tmp_path):
    manifest, t = _audio_manifest(tmp_path)
    out = tmp_path / "out.csv"
    with pytest.warns(
        MlstratWarning,
        match=re.escape(
            "small pool: the noise pool (0.2 seconds) is reused 20.0x over the synthesized set (4 seconds)"
        ),
    ):
        r = synthesize(
            manifest,
            audio_col="audio",
            transforms=["mix"],
            pool=tmp_path / "noise",
            snr=(10, 10),
            output=out,
        )
    assert r.n_synthesized == 8 and r.pool.reuse_factor == pytest.approx(20.0)
    new = pcsv.read_csv(out).slice(t.num_rows)
    assert set(new["split"].to_pylist()) == {"train"}
    for orig, rel in zip(new["synthetic_of"].to_pylist(), new["audio"].to_pylist()):
        clean, _ = sf.read(tmp_path / "clean" / f"{orig[1:]}.wav")
        mixed, rate = sf.read(out.parent / rel)
        assert rate == RATE and mixed.shape == clean.shape
        snr = 10 * np.log10(np.mean(clean**2) / np.mean((mixed - clean) ** 2))
        assert snr == pytest.approx(10.0, abs=0.2)


def test_max_reuse_caps_audio_seconds(tmp_path):
    manifest, _ = _audio_manifest(tmp_path)
    with pytest.warns(MlstratWarning, match=r"^max_reuse=5: 6 synthetic row\(s\) were not made"):
        r = synthesize(
            manifest,
            audio_col="audio",
            transforms="mix",
            pool=tmp_path / "noise",
            max_reuse=5,
            output=tmp_path / "o.csv",
        )
    assert r.n_synthesized == 2 and r.pool.reuse_factor == pytest.approx(5.0)


def test_a_file_that_is_not_audio(tmp_path):
    manifest, _ = _audio_manifest(tmp_path)
    (tmp_path / "clean" / "3.wav").write_text("not audio at all")
    with pytest.raises(
        InputError,
        match=r"clean/3.wav: not a readable audio file \(.*\); expected WAV, FLAC, OGG "
        r"or another format soundfile reads$",
    ):
        synthesize(
            manifest,
            audio_col="audio",
            transforms="mix",
            pool=tmp_path / "noise",
            output=tmp_path / "o.csv",
        )


def test_audio_needs_a_pool_and_the_mix_transform(tmp_path):
    manifest, _ = _audio_manifest(tmp_path)
    from mlstrat import ConfigError

    with pytest.raises(ConfigError, match=r"^mix needs a pool of noise clips"):
        synthesize(manifest, audio_col="audio", transforms="mix", output=tmp_path / "o.csv")
    with pytest.raises(
        ConfigError, match=r"^unknown transform\(s\) 'blur'; available for audio: mix$"
    ):
        synthesize(
            manifest,
            audio_col="audio",
            transforms="blur",
            pool=tmp_path / "noise",
            output=tmp_path / "o.csv",
        )


def test_ids_that_sanitize_alike_each_get_their_own_file(tmp_path):
    """``x/1``, ``x_1``, ``x 1`` and non-Latin ids used to share one file (the last write won)."""
    manifest, t = _image_manifest(tmp_path)
    ids = ["x/1", "x_1", "x 1", "кот", "собака", "猫", "x?1", "X_1", "r8", "r9", "r10", "r11"]
    pcsv.write_csv(t.set_column(0, "id", pa.array(ids)), manifest)
    out = tmp_path / "synth.csv"
    r = synthesize(manifest, image_col="path", transforms=["noise"], like="app", output=out, folds=2)
    new = pcsv.read_csv(out).slice(t.num_rows)["path"].to_pylist()
    assert len(new) == r.n_synthesized == 6
    assert len(set(new)) == len(new)
    files = list((tmp_path / "synth_files").iterdir())
    assert len(files) == len(new)


def test_safe_name_is_readable_and_injective():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from mlstrat.mismatch._rows import safe_name

    assert re.fullmatch(r"x_1-[0-9a-f]{12}", safe_name("x/1"))
    assert len({safe_name(v) for v in ("x/1", "x_1", "x 1", "X_1")}) == 4

    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.text(min_size=0, max_size=300), min_size=2, max_size=20, unique=True))
    def distinct(values):
        names = [safe_name(v) for v in values]
        assert len(set(names)) == len(values)
        assert all(len(n.encode()) <= 100 and "/" not in n and not n.startswith(".") for n in names)

    distinct()
