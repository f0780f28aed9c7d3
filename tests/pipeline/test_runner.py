"""The runner's contracts: `prep_map` into a `Product`, the FITS sink's MASK image read back by name, a sink
of one's own, and no pipeline module leaning on another's private names."""

import ast
import dataclasses
import threading
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

import aiapy.pipeline
from aiapy.pipeline import (
    Executor,
    FileList,
    FitsFolder,
    Item,
    PrepConfig,
    Sink,
    check_output,
    prep_map,
    read_output,
    run,
)
from aiapy.pipeline._shared import build_shared
from aiapy.pipeline._steps import read_level1
from aiapy.utils import PixelFlag

STEPS = "register,degradation,exposure"


def _product(path, config):
    return prep_map(read_level1(path), config, build_shared(config, []))


def _item(path):
    return Item(str(path), Path(path), {})


@pytest.mark.parametrize("compress", [None, "rice", "gzip"])
def test_mask_image_written_and_read_back_by_name(flare_inputs, tmp_path, compress):
    """A product with saturated and bloomed pixels gets a MASK image beside the UNCERTAINTY one; read_output
    takes each by its name, the flags as the map's mask."""
    config = PrepConfig(steps=STEPS, uncertainty=True, compress=compress)
    product = _product(flare_inputs[0], config)
    flags = np.zeros(product.image.data.shape, np.uint8)
    flags[10:12, 20] = PixelFlag.SATURATED
    flags[12:20, 20] = PixelFlag.BLOOM
    product = dataclasses.replace(product, mask=flags, provenance={"AIAPYINP": "0123456789abcdef"})
    sink = FitsFolder(tmp_path)
    item = _item(flare_inputs[0])
    target = sink.write(item, product, config)
    with fits.open(target) as hdulist:
        names = [hdu.name for hdu in hdulist]
    assert names[-2:] == ["UNCERTAINTY", "MASK"]
    smap, errors = read_output(target)
    np.testing.assert_array_equal(smap.mask, flags)
    assert smap.mask.dtype == np.uint8 and errors.data.dtype == np.float32
    if compress != "rice":  # lossless: the image and the uncertainty as computed
        np.testing.assert_array_equal(smap.data, product.image.data.astype(np.float32))
        np.testing.assert_array_equal(errors.data, product.uncertainty.astype(np.float32))
    assert check_output(target, config_id=config.config_id, uncertainty=True) == (True, "")


def test_a_mask_alone_is_not_taken_for_the_uncertainty(flare_inputs, tmp_path):
    """An output with a MASK image and no uncertainty: read_output used to return the second image as the
    uncertainty."""
    config = PrepConfig(steps=STEPS)
    product = _product(flare_inputs[1], config)
    flags = np.zeros(product.image.data.shape, np.uint8)
    flags[0, 0] = PixelFlag.SATURATED
    product.mask, product.provenance = flags, {"AIAPYINP": "0123456789abcdef"}
    smap, errors = read_output(FitsFolder(tmp_path).write(_item(flare_inputs[1]), product, config))
    assert errors is None and smap.mask[0, 0] == PixelFlag.SATURATED and smap.mask.sum() == PixelFlag.SATURATED


def test_missing_pixels_alone_write_no_mask(flare_inputs, tmp_path):
    """Pixels only missing are NaN in the float image already: no MASK image (outputs of today's inputs are
    unchanged), and the map read back carries no mask."""
    config = PrepConfig(steps="register", missing=float("nan"))
    report = prep_files_one(flare_inputs[2], tmp_path, config)
    smap, _ = read_output(report.results[0].output)
    assert np.isnan(smap.data).any() and smap.mask is None
    assert report.results[0].warnings == []  # every output's header used to warn of a truncated comment
    with fits.open(report.results[0].output) as hdulist:
        assert [hdu.name for hdu in hdulist] == ["PRIMARY"]


def prep_files_one(path, out, config):
    return run(FileList([path]), FitsFolder(out), config, executor=Executor(), progress=False)


class _Memory(Sink):
    """Products kept in this process, by item name (a serial run's sink of one's own)."""

    def __init__(self):
        self.products, self.opened, self.closed = {}, None, None

    def open(self, items, config):
        self.opened = [item.name for item in items]

    def target(self, item):
        return f"memory:{Path(item.name).name}"

    def is_complete(self, item, config):
        return item.name in self.products

    def write(self, item, product, config):
        self.products[item.name] = product
        return self.target(item)

    def close(self, results):
        self.closed = [result.status for result in results]


def test_a_new_front_end_needs_only_a_sink(flare_inputs, tmp_path):
    sink = _Memory()
    config = PrepConfig(steps=STEPS, uncertainty=True)
    report = run(FileList(flare_inputs), sink, config, executor=Executor(), progress=False)
    assert report.ok and sink.opened == [str(p) for p in flare_inputs] and sink.closed == ["done"] * 4
    assert [r.output for r in report.results] == [f"memory:{p.name}" for p in flare_inputs]
    # what the FITS sink writes of the same frame is what the sink of one's own was given
    product = sink.products[str(flare_inputs[0])]
    assert product.notes["steps"] == ["register", "degradation", "exposure"]
    assert product.provenance["AIAPYINP"] and product.uncertainty.shape == product.image.data.shape
    written, _ = read_output(prep_files_one(flare_inputs[0], tmp_path, config).results[0].output)
    np.testing.assert_array_equal(written.data, product.image.data.astype(np.float32))
    # the sink's resume rule is the run's: a second run into it skips every item
    assert run(FileList(flare_inputs), sink, config, executor=Executor(), progress=False).counts["skipped"] == 4


def _private_imports(path):
    """``(module, name)`` of each underscore name ``path`` imports from another aiapy module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("aiapy"):
            found += [(node.module, a.name) for a in node.names if a.name.startswith("_") and a.name != "__version__"]
    return found


def test_no_pipeline_module_imports_a_private_name():
    modules = sorted(Path(aiapy.pipeline.__file__).parent.glob("*.py"))
    assert len(modules) > 10
    # the package imports its submodules (to list their names), never a private name from one
    found = {m.name: _private_imports(m) for m in modules}
    assert {name: names for name, names in found.items() if names} == {"__init__.py": [("aiapy.pipeline", "_config")]}


class _Barrier(_Memory):
    """A sink whose resume check of each item waits until another item's check has started too."""

    def __init__(self):
        super().__init__()
        self.barrier = threading.Barrier(2, timeout=30)

    def is_complete(self, item, config):
        self.barrier.wait()  # BrokenBarrierError if the checks ran one after the other
        return super().is_complete(item, config)


def test_existing_outputs_are_checked_in_parallel(flare_inputs):
    """The resume checks (a checksum pass over each existing output) ran one file after the other in the client
    before any work: a rerun over a day of outputs on a cluster waited for them serially."""
    sink = _Barrier()
    sink.products = {str(path): None for path in flare_inputs}
    report = run(FileList(flare_inputs), sink, PrepConfig(steps=STEPS), executor=Executor(), progress=False)
    assert report.counts["skipped"] == len(flare_inputs) == 4
