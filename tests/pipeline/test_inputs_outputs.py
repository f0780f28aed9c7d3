"""Input expansion, output naming, atomic writes and the validity check that lets reruns skip files."""

import os

import numpy as np
import pytest
from astropy.io import fits

from aiapy.pipeline import _output, check_output, expand_inputs, is_aiapy_output, output_path
from aiapy.pipeline._inputs import temporary_path
from aiapy.pipeline._output import write_output
from aiapy.pipeline._output import prepare_out_dir


def test_expand_files_directories_and_globs(flare_inputs, tmp_path):
    folder = flare_inputs[0].parent
    (folder / ".hidden.fits").write_bytes(b"")
    (folder / "notes.txt").write_text("not an input")
    assert expand_inputs(folder) == flare_inputs
    assert expand_inputs(str(folder / "*_171.fits")) == [p for p in flare_inputs if p.name.endswith("_171.fits")]
    # duplicates collapse; a file is taken whatever its name
    assert expand_inputs([flare_inputs[0], str(flare_inputs[0]), folder / "notes.txt"]) == sorted(
        [flare_inputs[0], folder / "notes.txt"]
    )


def test_expand_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="matches no file"):
        expand_inputs([tmp_path / "nothing_*.fits"])
    with pytest.raises(TypeError, match="each input"):
        expand_inputs([3])
    with pytest.raises(TypeError, match="iterable of paths"):
        expand_inputs(3)


def test_output_names(tmp_path):
    assert output_path("/a/aia.lev1.171A.image_lev1.fits", tmp_path).name == "aia.lev1.171A.image_lev1_lev1.5.fits"
    assert output_path("/a/x.fits.gz", tmp_path) == tmp_path / "x_lev1.5.fits"
    # issue 12: temporary names are unique per call (process, host, token), hidden, beside the output
    first, second = temporary_path(tmp_path / "x_lev1.5.fits"), temporary_path(tmp_path / "x_lev1.5.fits")
    assert first != second and first.parent == tmp_path
    assert first.name.startswith(f".x_lev1.5.fits.{os.getpid()}@") and first.name.endswith(".part")


@pytest.fixture
def image():
    rng = np.random.default_rng(1)
    return rng.normal(100, 10, size=(64, 48)).astype(np.float32)


def _header(config_id="abc"):
    header = fits.Header()
    header["AIAPYCFG"] = config_id
    return header


@pytest.mark.parametrize("compress", [None, "rice", "gzip"])
def test_written_output_is_valid(tmp_path, image, compress):
    path = tmp_path / "out.fits"
    write_output(path, image, _header(), compress=compress, uncertainty=image / 10)
    assert check_output(path, config_id="abc", uncertainty=True) == (True, "")
    assert is_aiapy_output(path)  # the settings key is found without decoding the tiles
    assert not list(tmp_path.glob(".*"))  # no temporary file left
    with fits.open(path) as hdulist:
        data = [hdu.data for hdu in hdulist if hdu.data is not None]
    if compress == "rice":
        # fpack-style quantisation to 1/16 of the noise (sigma 10 here): error well under 1 unit
        np.testing.assert_allclose(data[0], image, atol=1.0)
    else:
        np.testing.assert_array_equal(data[0], image)  # lossless
    np.testing.assert_allclose(data[1], image / 10, rtol=0 if compress != "rice" else 1e-2)
    with fits.open(path) as hdulist:
        header = hdulist["UNCERTAINTY"].header  # the statistics describe the uncertainty, not the image
        assert header["DATAMAX"] == pytest.approx(float(image.max() / 10), rel=1e-6)
        assert header["DATAMEAN"] == pytest.approx(float(np.mean(image / 10)), rel=1e-5)


def test_invalid_outputs_are_detected(tmp_path, image):
    path = tmp_path / "out.fits"
    assert check_output(path, config_id="abc") == (False, "missing")
    write_output(path, image, _header())
    assert check_output(path, config_id="other")[0] is False
    assert "UNCERTAINTY" in check_output(path, config_id="abc", uncertainty=True)[1]
    raw = bytearray(path.read_bytes())
    raw[-200] ^= 0xFF  # one flipped byte in the data
    path.write_bytes(bytes(raw))
    assert check_output(path, config_id="abc") == (False, "checksum of HDU 0 does not verify")
    path.write_bytes(bytes(raw[:10000]))  # truncated, as a killed plain write would leave it
    valid, reason = check_output(path, config_id="abc")
    assert not valid and "truncated" in reason
    path.write_bytes(bytes(raw[: 2880 * 2]))  # truncated at a block boundary: astropy notices the short data
    valid, reason = check_output(path, config_id="abc")
    assert not valid and "unreadable" in reason


@pytest.mark.parametrize("compress", [None, "gzip"])
def test_interrupted_write_leaves_nothing(tmp_path, image, monkeypatch, compress):
    """Ctrl-C in the middle of writing: the partial temporary file is removed, no output appears."""
    path = tmp_path / "out.fits"

    def interrupted_write(name, *args, **kwargs):
        with open(name, "wb") as handle:
            handle.write(b"SIMPLE  =                    T" + b" " * 2000)
        raise KeyboardInterrupt

    # plain outputs go through aiapy's checksummed writer, compressed ones through astropy
    monkeypatch.setattr(_output, "write_images", interrupted_write)
    monkeypatch.setattr(fits.HDUList, "writeto", lambda self, name, **kwargs: interrupted_write(name))
    with pytest.raises(KeyboardInterrupt):
        write_output(path, image, _header(), compress=compress)
    assert list(tmp_path.iterdir()) == []


def test_temporaries_of_killed_writers_are_removed(tmp_path, image, monkeypatch):
    """A kill -9 leaves a temporary file: the next run into that folder removes it, and only such files."""
    import socket
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    host = "node1.cluster.example"  # a host name with dots, as on clusters
    monkeypatch.setattr(socket, "gethostname", lambda: host)
    path = tmp_path / "out.fits"
    stale = tmp_path / f".out.fits.{dead.stdout.strip()}@{host}@0123456789ab.part"
    alive = tmp_path / f".out.fits.{os.getpid()}@{host}@0123456789ab.part"  # a writer still running
    remote = tmp_path / ".out.fits.1@another-host@0123456789ab.part"  # another host of a shared disk
    other = tmp_path / f".other.fits.{dead.stdout.strip()}@{host}@0123456789ab.part"  # another output's, dead
    for leftover in (stale, alive, remote, other):
        leftover.write_bytes(b"partial")
    write_output(path, image, _header())
    prepare_out_dir(tmp_path)
    assert sorted(tmp_path.iterdir()) == sorted([path, alive, remote])
