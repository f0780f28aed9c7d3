"""
The batch pipeline
==================

:func:`aiapy.pipeline.prep_files` (the ``aiapy prep`` command) promotes many level-1 FITS files to
level 1.5: the steps of SolarSoft's ``aia_prep`` in its order, serially or on a Dask cluster
(``workers=`` or ``scheduler=``), resumably. Here it preps the bundled cutouts of the 2011-02-15 X2.2
flare, serially, into a temporary folder, with an uncertainty HDU.
"""

import shutil
import tempfile
from pathlib import Path

import astropy.units as u
import matplotlib.pyplot as plt
from astropy.io import fits

from aiapy.data import sample
from aiapy.pipeline import prep_files, read_output

inputs = [path for path in sample.FLARE_FILES if "T01-50" in path.name]
out_dir = Path(tempfile.mkdtemp(prefix="aiapy-pipeline-"))
report = prep_files(inputs, out_dir, uncertainty=True, progress=False)

# %%
# The report has one result per file: its status, output and timings.
print(report.counts)
for result in report.results:
    print(f"{result.status:<8} {Path(result.output).name}")

# %%
# Run it again: complete outputs made with the same settings are skipped, so an interrupted run resumes.
print(prep_files(inputs, out_dir, uncertainty=True, progress=False).counts)

# %%
# The outputs are level-1.5 FITS files in DN/s, with an ``UNCERTAINTY`` HDU;
# :func:`aiapy.pipeline.read_output` reads both back as maps.
outputs = sorted(Path(result.output) for result in report.results)
with fits.open(outputs[0]) as hdus:
    hdus.info()
    print(hdus[0].header["LVL_NUM"], hdus[0].header["BUNIT"])

fig = plt.figure(figsize=(12, 4.5))
for i, path in enumerate(outputs):
    smap, _ = read_output(path)
    ax = fig.add_subplot(1, len(outputs), i + 1, projection=smap)
    smap.plot(axes=ax, title=f"{smap.wavelength.to_value(u.AA):.0f} Å", clip_interval=(1, 99.9) * u.percent)
    ax.coords[0].set_ticklabel_visible(False)
    ax.coords[1].set_ticklabel_visible(False)
    ax.coords[0].set_axislabel(" ")
    ax.coords[1].set_axislabel(" ")
fig.tight_layout()

plt.show()

# %%
# The folder was temporary.
shutil.rmtree(out_dir)
