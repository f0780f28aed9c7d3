"""
The order of the gallery's examples: from one image to many, as a reader meets the steps.

Examples not listed here (new ones) come after the single-image steps, in the order of their file names,
and before the batch pipeline, so that a new example needs no edit here to appear.
"""

#: File names of docs/examples in the order of the gallery; ``"*"`` stands for every unlisted example.
ORDER = (
    "plot_full_disk_level15.py",
    "plot_register_cutout.py",
    "plot_psf_cutout.py",
    "plot_respike.py",
    "plot_degradation.py",
    "plot_uncertainties.py",
    "plot_channel_responses.py",
    "*",
    "plot_pipeline.py",
    "prep_jsoc.py",
)


def example_order(filename):
    """Sort key of an example's file name (sphinx-gallery's ``within_subsection_order``)."""
    position = ORDER.index(filename) if filename in ORDER else ORDER.index("*")
    return position, filename
