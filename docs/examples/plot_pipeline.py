"""
The batch pipeline
==================

:func:`aiapy.pipeline.prep_files` (the ``aiapy prep`` command) promotes many level-1 FITS files to
level 1.5: the steps of SolarSoft's ``aia_prep`` in its order, serially or on a Dask cluster
(``workers=`` or ``scheduler=``), resumably. Here it preps the six bundled cutouts of the 2011-02-15 X2.2
flare taken around 01:50 UT, serially, into a temporary folder, with an uncertainty HDU.

The default steps are the pointing update (skipped here: ``pointing="header"``, the default, keeps the
header's pointing), the registration, the degradation correction and the exposure normalisation. In
SolarSoft's sense only the first two make level 1.5; the outputs are still named ``*_lev1.5.fits``.
"""

import shutil
import tempfile
from pathlib import Path

import astropy.units as u
import matplotlib.pyplot as plt

from aiapy.data import sample
from aiapy.pipeline import prep_files, read_output

inputs = [path for path in sample.FLARE_FILES if "T01-50" in path.name]
out_dir = Path(tempfile.mkdtemp(prefix="aiapy-pipeline-"))
report = prep_files(inputs, out_dir, uncertainty=True, progress=False)

# %%
# The report has one result per file: its status, output and timings.
print(report.summary())
for result in report.results:
    print(f"{result.status:<8} {Path(result.output).name}")

# %%
# Run it again: complete outputs made with the same settings are skipped, so an interrupted run resumes.
print(prep_files(inputs, out_dir, uncertainty=True, progress=False).summary())

# %%
# The outputs are FITS files in DN/s with an ``UNCERTAINTY`` HDU; :func:`aiapy.pipeline.read_output` reads
# both back as maps. Each channel is shown on its own colour scale (1-99.9 percentiles): their
# intensities differ by orders of magnitude. The white areas are the flare's core, saturated in several
# channels: there the values do not measure the intensity, and the dark pixels along some of their edges
# come from the saturated level-1 pixels too. Missing pixels (NaN) would be drawn in grey.
fig = plt.figure(figsize=(15, 9.5), layout="constrained")
for index, path in enumerate(sorted(Path(result.output) for result in report.results)):
    smap, uncertainty = read_output(path)
    ax = fig.add_subplot(2, 3, index + 1, projection=smap)
    cmap = plt.get_cmap(smap.plot_settings["cmap"]).with_extremes(bad="0.6")
    image = smap.plot(axes=ax, cmap=cmap, clip_interval=(1, 99.9) * u.percent,
                      title=f"AIA {smap.wavelength.to_value(u.AA):.0f} Å {smap.date.iso[:19]}")
    fig.colorbar(image, ax=ax, label=f"intensity [{smap.unit.to_string()}]", shrink=0.8)
    if index % 3:
        ax.coords[1].set_axislabel(" ")
    if index < 3:
        ax.coords[0].set_axislabel(" ")
fig.suptitle("Level-1.5 outputs of prep_files (registered, degradation-corrected, DN/s), each on its own scale")
plt.show()

# %%
# The folder was temporary.
shutil.rmtree(out_dir)
