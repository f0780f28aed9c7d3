"""Convert the SSW V9 instrument/emissivity and chiantifix IDL save files to compressed npz.

Run once by the maintainers; its outputs are bundled in ``src/aiapy/data/calibration``:

    python tools/convert_v9_sav.py ../shared/data/calibration src/aiapy/data/calibration

The conversion is lossless: every array keeps its values and precision (big-endian IDL floats are stored
little-endian), every scalar and string of the save files is kept, and the npz ``metadata`` entry holds the
provenance as JSON.
"""

import json
import sys
from pathlib import Path

import numpy as np
from scipy.io import readsav

CHANNEL_ARRAYS = ("wave", "effarea", "fp_filter", "ent_filter", "primary", "secondary", "ccd", "contam")
CHANNEL_SCALARS = ("geoarea", "platescale", "elecperdn", "elecperev")


def _text(value):
    return value.decode() if isinstance(value, bytes) else value


def _native(array):
    array = np.asarray(array)
    return array.astype(array.dtype.newbyteorder("="))


def convert_instrument(source, target):
    record = readsav(source)["hybrid_export"][0]
    names = record.dtype.names
    arrays = {
        "emiss_logte": _native(record["EMISS_LOGTE"]),
        "emiss_wave": _native(record["EMISS_WAVE"]),
        "emissivity": _native(record["EMISSIVITY"]),
    }
    metadata = {
        key.lower(): _text(record[key])
        for key in names
        if isinstance(record[key], bytes | np.integer)
    }
    metadata["format_version"] = int(record["FORMAT_VERSION"])
    metadata["ioneq_ref"] = [_text(v) for v in record["IONEQ_REF"]]
    metadata["channels"] = [_text(v) for v in record["CHANNELS"]]
    for channel in metadata["channels"]:
        data = record[channel][0]
        for key in CHANNEL_ARRAYS:
            arrays[f"{channel}_{key}"] = _native(data[key.upper()])
        for key in CHANNEL_SCALARS:
            arrays[f"{channel}_{key}"] = np.float64(data[key.upper()])
    arrays["metadata"] = np.array(json.dumps(metadata, sort_keys=True))
    np.savez_compressed(target, **arrays)


def convert_chiantifix(source, target):
    record = readsav(source)["chiantifix_export"][0]
    metadata = {key.lower(): _text(record[key]) for key in record.dtype.names if isinstance(record[key], bytes)}
    metadata["format_version"] = int(record["FORMAT_VERSION"])
    metadata["channels"] = [_text(v) for v in record["CHANNELS"]]
    np.savez_compressed(
        target,
        logte=_native(record["LOGTE"]),
        empirical_minus_raw=_native(record["EMPIRICAL_MINUS_RAW"]),
        metadata=np.array(json.dumps(metadata, sort_keys=True)),
    )


if __name__ == "__main__":
    source_dir, target_dir = (Path(p) for p in sys.argv[1:3])
    convert_instrument(
        source_dir / "aia_V9_euv_instrument_emissivity.sav", target_dir / "aia_V9_euv_instrument_emissivity.npz"
    )
    convert_chiantifix(source_dir / "aia_V9_chiantifix.sav", target_dir / "aia_V9_chiantifix.npz")
