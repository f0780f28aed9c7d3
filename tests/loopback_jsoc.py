"""A loopback JSOC for the tests: a real HTTP server on 127.0.0.1 speaking the subset of the JSOC JSON API
that `drms` uses (``jsoc_info`` ``op=series_struct`` and ``op=rs_list``), serving segment files, SSW mirror
files and the LMSAL pointing CSV, with fault injection.

Data (all built from files bundled with aiapy):

* ``aia.response``: the rows of the bundled V10 and V8 SSW response tables (in that order).
* ``aia.master_pointing3h``: the two real bundled rows (2010-05-13 00:00-06:00), and a whole day,
  `POINTING_DAY` (2011-02-15), of 8 rows with DRMS time strings (``2011.02.15_00:00:00_UTC``). Those 8 rows
  are CONSTRUCTED from real values (see `pointing_day_rows`).
* ``aia.lev1_euv_12s``: records for `aiapy.data.sample.full_frame_171`, the real 769 x 705 cutout and the
  ten 171 A flare cutouts, each with a ``spikes`` segment. The spikes are CONSTRUCTED, not real (real
  spikes files are not available offline): the real layout (an int32 array of 2 or 3 rows; row 0 flat
  indices into 4096 x 4096, row 1 values, row 2 the level-1 value), at bright pixels of each image, with
  values = the level-1 value + a random excess.
* ``aia.lev1``: T_OBS and HAE[XYZ]_OBS of the 60 real flare cutout headers.
* SSW mirrors ``/mirror0/`` and ``/mirror1/``: the bundled SSW tables under their SSW paths.
* ``/lmsal/aia_pointing_table.csv``: the same pointing rows (ISO times) without the 131 A columns, as on the
  mirror.

Tests may serve more files by adding to ``files`` (path -> bytes), e.g. with ``monkeypatch.setitem``.

Faults (`LoopbackJSOC.inject`), consumed one per matching request: ``"500"``, ``"stall"`` (no answer
until the client gives up), ``"trickle"`` (the body one byte every 50 ms: never silent long enough for a
read timeout), ``"truncate"`` (half the announced body), ``"badhash"`` (one byte changed), ``"empty"`` (an
rs_list answer with no records).
"""

import gzip
import io
import json
import re
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import astropy.units as u
import numpy as np
from astropy.io import ascii as astropy_ascii
from astropy.io import fits
from astropy.time import Time

from aiapy.data import get_entry, get_file, sample
from aiapy.net.jsoc import jsoc_time_to_isot

FRAME = 4096
#: The UTC day for which the loopback JSOC and mirror hold all 8 master-pointing rows.
POINTING_DAY = "2011-02-15"
_POINTING_FIELDS = ("X0", "Y0", "IMSCALE", "INSTROT")
_HEADER_FIELDS = {"X0": "x0_mp", "Y0": "y0_mp", "IMSCALE": "imscl_mp", "INSTROT": "inst_rot"}


def pointing_day_rows():
    """
    The 8 rows (00:00-03:00 ... 21:00-24:00) of `POINTING_DAY`, as dicts of strings in the LMSAL CSV
    layout (ISO times with Z). CONSTRUCTED from real values: the 00:00-03:00 row holds, for the channels
    of the real 2011-02-15 flare files (94, 131, 171, 193, 211, 335 A), the pointing their headers carry
    (X0_MP, Y0_MP, IMSCL_MP, INST_ROT: the MPT row in force), and for 304, 1600, 1700, 4500 A the real
    bundled 2010-05-13 values; each later row drifts by +0.05 px in X0 and -0.03 px in Y0 per 3 h.
    """
    bundled = astropy_ascii.read(get_file("pointing_table_sample"), format="csv")
    first = {c: float(bundled[c][0]) for c in bundled.colnames if c.startswith("A_")}
    for smap in sample.flare_maps():
        key = f"{int(smap.meta['wavelnth']):03d}"
        for field, header in _HEADER_FIELDS.items():
            first[f"A_{key}_{field}"] = float(smap.meta[header])
    start = Time(f"{POINTING_DAY}T00:00:00", scale="utc")
    rows = []
    for i in range(8):
        t0, t1 = start + 3 * i * u.h, start + 3 * (i + 1) * u.h
        row = {"T_START": t0.isot[:19] + "Z", "T_STOP": t1.isot[:19] + "Z"}
        for name, value in first.items():
            drift = {"_X0": 0.05 * i, "_Y0": -0.03 * i}.get(name[name.rindex("_"):], 0.0)
            row[name] = f"{value + drift:.6f}"
        rows.append(row)
    return rows


def _drms_time(iso):
    """``2011-02-15T03:00:00Z`` -> ``2011.02.15_03:00:00_UTC`` (a DRMS time string)."""
    return iso[:10].replace("-", ".") + "_" + iso[11:19] + "_UTC"


def build_spikes(data, offset, *, count, seed, rows=2, outside=0):
    """
    A constructed spikes array (rows x N, int32) for an image ``data`` whose pixel (0, 0) is the full-frame
    pixel ``offset`` = (x, y): ``count`` spikes at distinct pixels among the brightest 10 % of the image,
    value = image value + an excess of 20-400 DN, plus ``outside`` spikes elsewhere in the frame (off the
    image) with random values. Sorted by flat index, as in the JSOC files.
    """
    rng = np.random.default_rng(seed)
    bright = np.flatnonzero(data >= np.percentile(data, 90))
    chosen = rng.choice(bright, size=count, replace=False)
    y, x = np.unravel_index(chosen, data.shape)
    level1 = data[y, x].astype(np.int64)
    values = level1 + rng.integers(20, 400, size=count)
    index = (y + offset[1]) * FRAME + (x + offset[0])
    if outside:
        ny, nx = data.shape
        off_y = rng.integers(0, FRAME, size=4 * outside)
        off_x = rng.integers(0, FRAME, size=4 * outside)
        off = ~(
            (off_x >= offset[0] - 1) & (off_x <= offset[0] + nx) & (off_y >= offset[1] - 1) & (off_y <= offset[1] + ny)
        )
        off_index = np.unique(off_y[off] * FRAME + off_x[off])[:outside]
        index = np.concatenate([index, off_index])
        values = np.concatenate([values, rng.integers(100, 3000, size=off_index.size)])
        level1 = np.concatenate([level1, np.zeros(off_index.size, dtype=np.int64)])
    order = np.argsort(index)
    array = np.stack([index, values, level1][:rows])[:, order]
    return array.astype(np.int32)


def spikes_fits_bytes(array, *, compress=False):
    """The spikes array as FITS bytes: an empty primary HDU and an int32 image extension."""
    buffer = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(array)]).writeto(buffer)
    raw = buffer.getvalue()
    return gzip.compress(raw, mtime=0) if compress else raw


def map_offset(smap):
    """Full-frame pixel of the map's pixel (0, 0): X0_MP - (CRPIX - 1), an integer for real cutouts."""
    return (round(smap.meta["x0_mp"] - (smap.meta["crpix1"] - 1)),
            round(smap.meta["y0_mp"] - (smap.meta["crpix2"] - 1)))  # fmt: skip


class Series:
    """One DRMS series: keyword names and types, segment names, records (dicts of strings)."""

    def __init__(self, name, keywords, *, time_key, segments=(), records=()):
        self.name, self.keywords, self.time_key = name, dict(keywords), time_key
        self.segments, self.records = list(segments), list(records)

    def struct(self):
        return {
            "status": 0, "note": f"loopback {self.name}", "primekeys": [self.time_key],
            "keywords": [{"name": k, "type": t, "units": "", "note": ""} for k, t in self.keywords.items()],
            "segments": [{"name": s, "type": "int", "units": "", "protocol": "fits", "dims": "", "note": ""}
                         for s in self.segments],
            "links": [], "retention": 0, "unitsize": 1, "archive": 0, "tapegroup": 0, "dbindex": [self.time_key],
        }  # fmt: skip

    def select(self, filters):
        records = self.records
        for kind, a, b in filters:
            if kind == "time" and records:
                t = Time([jsoc_time_to_isot(r[self.time_key]).rstrip("Z") for r in records], scale="utc")
                records = [r for r, inside in zip(records, (a <= t) & (t < b), strict=True) if inside]
            elif kind == "eq":
                records = [r for r in records if str(r.get(a)) == b]
        return records


_SPEC = re.compile(r"^([\w.]+)((?:\[[^\]]*\])*)$")


def _parse_filters(brackets):
    filters = []
    for part in re.findall(r"\[([^\]]*)\]", brackets):
        if part in ("", "!1=1!"):
            continue
        if match := re.match(r"^(.+Z)/(\d+(?:\.\d+)?)s$", part):
            start = Time(match[1].rstrip("Z"), scale="utc")
            filters.append(("time", start, start + float(match[2]) * u.s))
        elif match := re.match(r"^(\d{4}-.+Z)-(\d{4}-.+Z)$", part):
            filters.append(("time", Time(match[1].rstrip("Z"), scale="utc"),
                            Time(match[2].rstrip("Z"), scale="utc") + 1 * u.us))  # fmt: skip
        elif match := re.match(r"^(\w+)=(.+)$", part):
            filters.append(("eq", match[1], match[2]))
        else:
            raise ValueError(f"loopback JSOC cannot parse the filter [{part}]")
    return filters


class _Handler(BaseHTTPRequestHandler):
    server_version = "LoopbackJSOC/1"

    def log_message(self, *args):  # silence the default stderr logging
        pass

    def _send(self, status, body, content_type="application/octet-stream", *, fault=None):
        if fault == "badhash" and body:
            body = bytes([body[0] ^ 0xFF]) + body[1:]
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if fault == "trickle":
            return self._trickle(body)
        self.wfile.write(body[: len(body) // 2] if fault == "truncate" else body)
        if fault == "truncate":  # a transfer cut short ends its connection (kept alive over HTTP/1.1)
            self.close_connection = True
        return None

    def _server_fault(self, fault):
        """Answer a ``"500"`` or ``"stall"`` fault (a stall holds the request, then drops the connection);
        whether the request is thereby answered."""
        if fault == "500":
            self._send(500, b"Internal Server Error", "text/plain")
        elif fault == "stall":
            self.server.jsoc._stop.wait(self.server.jsoc.stall_seconds)
            self.close_connection = True
        return fault in ("500", "stall")

    def _trickle(self, body):
        try:
            for i in range(len(body)):
                self.wfile.write(body[i : i + 1])
                self.wfile.flush()
                if self.server.jsoc._stop.wait(0.05):
                    break
        except OSError:  # the client gave up and closed the connection
            pass
        self.close_connection = True

    def do_GET(self):
        jsoc = self.server.jsoc
        parsed = urllib.parse.urlparse(self.path)
        jsoc.requests.append(self.path)
        fault = jsoc._take_fault(parsed.path)
        if self._server_fault(fault):
            return None
        if parsed.path == "/cgi-bin/ajax/jsoc_info":
            params = dict(urllib.parse.parse_qsl(parsed.query))
            answer = jsoc._jsoc_info(params, empty=fault == "empty")
            body = json.dumps(answer).encode("latin1")
            return self._send(200, body, "application/json", fault=fault)
        if parsed.path in jsoc.files:
            return self._send(200, jsoc.files[parsed.path], fault=fault)
        return self._send(404, b"Not Found", "text/plain")


class LoopbackJSOC:
    """The loopback server; `start` it, use `url`, `mirrors`, `pointing_url`; `stop` it."""

    stall_seconds = 30.0

    def __init__(self):
        self.series, self.files, self.faults, self.requests = {}, {}, [], []
        self.spikes = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._server = None
        self._build()

    # ---- data ----
    def _table_records(self, names):
        records = []
        for name in names:
            table = astropy_ascii.read(get_file(name), format="basic", guess=False)
            for row in table:
                records.append({c: str(row[c]) + ("Z" if c in ("DATE", "T_START", "T_STOP") else "")
                                for c in table.colnames})  # fmt: skip
        return records, table.colnames

    def _build(self):
        records, columns = self._table_records(["correction_table_v10", "correction_table_v8"])
        types = {c: "time" if c in ("DATE", "T_START", "T_STOP") else "string" if c == "WAVE_STR"
                 else "int" if c in ("VER_NUM", "WAVELNTH") else "double" for c in columns}  # fmt: skip
        self.series["aia.response"] = Series("aia.response", types, time_key="T_START", records=records)

        pointing = astropy_ascii.read(get_file("pointing_table_sample"), format="csv")
        types = {c: "time" if c.startswith("T_") else "double" for c in pointing.colnames}
        rows = [{c: str(row[c]) for c in pointing.colnames} for row in pointing]
        day = pointing_day_rows()
        drms_day = [{**row, "T_START": _drms_time(row["T_START"]), "T_STOP": _drms_time(row["T_STOP"])} for row in day]
        self.series["aia.master_pointing3h"] = Series(
            "aia.master_pointing3h", types, time_key="T_START", records=rows + drms_day
        )
        lmsal_columns = [c for c in pointing.colnames if not c.startswith("A_131_")]
        lines = [",".join(lmsal_columns)] + [",".join(row[c] for c in lmsal_columns) for row in rows + day]
        self.files["/lmsal/aia_pointing_table.csv"] = ("\n".join(lines) + "\n").encode()

        for name in ("correction_table_v10", "error_table_v3"):
            entry = get_entry(name)
            content = get_file(name).read_bytes()
            for mirror in ("/mirror0/", "/mirror1/"):
                self.files[mirror + entry.ssw_path] = content

        lev1 = Series("aia.lev1_euv_12s", {"T_REC": "time", "T_OBS": "time", "WAVELNTH": "int"},
                      time_key="T_REC", segments=["spikes"])  # fmt: skip
        full = sample.full_frame_171()
        cutout = sample.load_map("aia_171_cutout")
        flares = sample.flare_maps(171)
        targets = [(full, {"count": int(full.meta["nspikes"]), "rows": 2}),
                   (cutout, {"count": int(cutout.meta["nspikes"]), "rows": 2, "outside": 500})]  # fmt: skip
        targets += [(m, {"count": 25, "rows": 3, "outside": 300}) for m in flares]
        for i, (smap, options) in enumerate(targets):
            array = build_spikes(smap.data, map_offset(smap), seed=100 + i, **options)
            path = f"/SUM{i + 1}/D{1000 + i}/S00000/spikes.fits"
            self.files[path] = spikes_fits_bytes(array)
            self.spikes[smap.reference_date.isot] = array
            lev1.records.append({"T_REC": str(smap.meta["t_rec"]), "T_OBS": str(smap.meta["t_obs"]),
                                 "WAVELNTH": str(int(smap.meta["wavelnth"])), "spikes": path})  # fmt: skip
        self.series[lev1.name] = lev1

        keys = {"T_OBS": "time", "HAEX_OBS": "double", "HAEY_OBS": "double", "HAEZ_OBS": "double"}
        positions = Series("aia.lev1", keys, time_key="T_OBS")
        for smap in sample.flare_maps():
            positions.records.append({k: str(smap.meta[k.lower()]) for k in keys})
        self.series["aia.lev1"] = positions

    # ---- faults ----
    def inject(self, prefix, *faults):
        """Queue ``faults``, one per request whose path starts with ``prefix``."""
        with self._lock:
            self.faults.extend((prefix, f) for f in faults)

    def _take_fault(self, path):
        with self._lock:
            for i, (prefix, fault) in enumerate(self.faults):
                if path.startswith(prefix):
                    del self.faults[i]
                    return fault
        return None

    # ---- API ----
    def _jsoc_info(self, params, *, empty):
        ds = params.get("ds", "")
        match = _SPEC.match(ds.strip())
        name = match[1].lower() if match else ds
        if name not in self.series:
            return {"status": 1, "error": f"series {name} not found"}
        series = self.series[name]
        if params.get("op") == "series_struct":
            return series.struct()
        if params.get("op") != "rs_list":
            return {"status": 1, "error": f"unsupported op {params.get('op')}"}
        records = [] if empty else series.select(_parse_filters(match[2]))
        keys = params.get("key", "")
        keys = list(series.keywords) if keys == "**ALL**" else [k for k in keys.split(",") if k]
        segs = [s for s in params.get("seg", "").split(",") if s]
        answer = {"status": 0, "count": len(records), "runtime": 0.001}
        if keys:
            answer["keywords"] = [{"name": k, "values": [r.get(k, "MISSING") for r in records]} for k in keys]
        if segs:
            answer["segments"] = [{"name": s, "values": [r[s] for r in records], "dims": ["2x1"] * len(records)}
                                  for s in segs]  # fmt: skip
        return answer

    def start(self):
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.jsoc = self
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self):
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    @property
    def mirrors(self):
        return [f"{self.url}mirror0/", f"{self.url}mirror1/"]

    @property
    def pointing_url(self):
        return f"{self.url}lmsal/aia_pointing_table.csv"
