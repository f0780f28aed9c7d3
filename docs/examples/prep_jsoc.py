"""
From a time range at the JSOC to level 1.5: ``aiapy prep --jsoc``
=================================================================

.. note::

   This example is **not run** when the documentation is built: it needs the network and an e-mail
   address registered for JSOC exports, so the page shows its code without output. The test suite runs
   the same script against a JSOC export server on the loopback interface (``tests/test_examples.py``).

:func:`aiapy.pipeline.prep_jsoc` finds the level-1 records of a time range at the JSOC, exports and
downloads them, and promotes each file to level 1.5 as it arrives, so that the downloads and the prep
overlap. On the command line the same run is::

    aiapy prep --jsoc 2011-02-15T01:44/2011-02-15T02:04 --channels 94,171,193 --cadence 4min \\
        --email you@example.org --out lev15/

(see :doc:`/guides/jsoc` and :doc:`/guides/cli`).
"""

import os
from pathlib import Path

import astropy.units as u
import matplotlib.pyplot as plt

from aiapy.pipeline import prep_jsoc, read_output

# sphinx_gallery_thumbnail_path = "images/prep_jsoc_loopback.png"

# %%
# The first 20 minutes of the 2011-02-15 X2.2 flare in three channels, one frame every 4 minutes. Records
# with ``QUALITY`` != 0 are skipped (and listed in the report); ``email`` must be registered at the JSOC.
out_dir = Path("lev15")
report = prep_jsoc(
    "2011-02-15T01:44/2011-02-15T02:04",
    [94, 171, 193],
    out_dir,
    cadence="4min",
    email=os.environ.get("JSOC_EMAIL", "you@example.org"),
    progress=False,
)

# %%
# The report has one result per record: its status, output file and timings (``download`` among them).
# Running the same call again skips the records whose output is complete, without downloading them.
print(report.summary())
for result in report.results:
    print(f"{result.status:<8} {result.input}")

# %%
# The outputs are level-1.5 files in DN/s (the default steps also correct the degradation and
# normalise the exposure). The first frame of each channel, each on its own scale:
first = {}
for result in report.results:
    if result.status in ("done", "skipped"):
        smap, _ = read_output(result.output)
        first.setdefault(int(smap.wavelength.to_value(u.AA)), smap)

fig = plt.figure(figsize=(5 * len(first), 4.8), layout="constrained")
for index, (channel, smap) in enumerate(sorted(first.items())):
    ax = fig.add_subplot(1, len(first), index + 1, projection=smap)
    image = smap.plot(axes=ax, clip_interval=(1, 99.9) * u.percent, title=f"AIA {channel} Å {smap.date.iso[:19]}")
    fig.colorbar(image, ax=ax, label=f"intensity [{smap.unit.to_string()}]", shrink=0.8)
plt.show()
