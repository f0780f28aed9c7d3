"""A loopback JSOC that also speaks the export protocol `drms` uses (``jsoc_fetch`` ``op=exp_request`` and
``op=exp_status``) and serves the exported files, for the tests of `aiapy.pipeline.prep_jsoc`.

It reuses `loopback_jsoc.LoopbackJSOC` (its HTTP handling, record selection, spikes files and faults) with
only level-1 series, built from the bundled real files in the JSOC's layout:

* ``aia.lev1_euv_12s``: the 60 real 67 x 67 cutouts of the 2011-02-15 flare (6 channels x 10 times) with
  their real headers, each written as the JSOC stores level-1 images (an empty primary HDU and a
  Rice-compressed int16 image with CHECKSUM/DATASUM), plus the real Rice-compressed 769 x 705 cutout of
  2013-03-10 byte for byte; each record has a ``spikes`` file in the JSOC layout (constructed spikes, see
  `loopback_jsoc.build_spikes`). Keywords T_REC (``YYYY-MM-DDTHH:MM:SSZ``), T_OBS, WAVELNTH, QUALITY,
  EXPTIME, FSN come from the headers.
* ``aia.lev1_uv_24s``, ``aia.lev1_vis_1h``: the series, with no records.
* ``aia.master_pointing3h``: rows made from the cutouts' own header pointing
  (`aiapy.pipeline.write_header_pointing_table`), so update_pointing runs and leaves them unchanged.

An export is pending for `pending_polls` status polls (status 2 at the request, then 1), then succeeds
with the file list (``NoDataFile`` for a record in `missing`). `quality` overrides QUALITY per record.
Faults are injected as in the base server, by the prefix of the full request path (query included), e.g.
``inject("/cgi-bin/ajax/jsoc_fetch?op=exp_status", "500")`` or ``inject(image_path, "stall")``; besides
the base faults there is ``"corrupt"`` (one byte of the compressed data changed: the file is complete but
its DATASUM does not match). `latency` (seconds) is slept once for every new connection the server accepts,
as the TCP and TLS handshakes with a far server cost (a few round trips); `connections` counts them, and
`file_connections` holds the client address of each connection that asked for a file (HEAD or GET). `bandwidth` (bytes/s) slows the file downloads: shared by all transfers, or,
with `per_connection`, for each transfer on its own (as a server that limits every connection).

Files are served as the JSOC's Apache serves them: ``Accept-Ranges: bytes``, and a ``Range: bytes=A-B``
request (``B`` optional) is answered 206 with that part and its ``Content-Range`` (416 if it lies past the
end); ``(path, Range header)`` of every file request is kept in `file_requests`. With `ranges` False the
server does neither (no ``Accept-Ranges``, the whole file for any request); with ``"announced"`` it
announces ``Accept-Ranges: bytes`` but answers every request with the whole file (200). A fault on a file applies to
the one request (a byte range) that takes it: a stalled or truncated part; a ``"corrupt"`` fault is taken
only by the request whose part holds the byte it changes (one of the compressed pixels).

The server speaks HTTP/1.1 and keeps connections alive as the JSOC's does (every answer has a
Content-Length); a fault that cuts a transfer short (stall, truncate, trickle) then closes its connection,
as a real server's timeout or crash would.
"""

import io
import itertools
import json
import re
import threading
import tempfile
import time
import urllib.parse
import warnings
from http.server import ThreadingHTTPServer
from pathlib import Path

import astropy.units as u
from astropy.io import ascii as astropy_ascii
from astropy.io import fits
from astropy.time import Time

from aiapy.data import sample
from aiapy.pipeline import write_header_pointing_table
from aiapy.utils.io import read_map
from loopback_jsoc import LoopbackJSOC, Series, _Handler, _parse_filters, build_spikes, map_offset, spikes_fits_bytes

KEYWORDS = {"T_REC": "time", "T_OBS": "time", "WAVELNTH": "int", "QUALITY": "int", "EXPTIME": "double", "FSN": "int"}
SERIES = ("aia.lev1_euv_12s", "aia.lev1_uv_24s", "aia.lev1_vis_1h")
_DS = re.compile(r"^([\w.]+)(?:\[([^\]]*)\])?(?:\[([\d,\s]*)\])?(?:\{([\w,\s]*)\})?$")
_CHUNK = 16384
_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


def t_rec(header):
    """T_REC as the JSOC writes it for these series: whole seconds, ``Z``."""
    return Time(str(header["T_REC"]).rstrip("Z"), scale="utc").strftime("%Y-%m-%dT%H:%M:%SZ")


def jsoc_image_bytes(path):
    """A level-1 file as the JSOC stores it: the real bytes if Rice-compressed, else rewritten so."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fits.verify.VerifyWarning)  # BLANK of the float cutouts: dropped below
        with fits.open(path) as hdulist:
            if any(isinstance(h, fits.CompImageHDU) for h in hdulist):
                return path.read_bytes()
            hdu = next(h for h in hdulist if h.header.get("NAXIS") == 2)
            header = hdu.header.copy()
            for key in ("BLANK", "BSCALE", "BZERO", "CHECKSUM", "DATASUM"):
                header.remove(key, ignore_missing=True)
            data = hdu.data.round().astype("int16")
    buffer = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(data, header, compression_type="RICE_1")]).writeto(
        buffer, checksum=True
    )
    return buffer.getvalue()


def _heap(body):
    """The offset of a byte of the last HDU's heap (the compressed pixels)."""
    with fits.open(io.BytesIO(body), disable_image_compression=True) as hdulist:
        info = hdulist.fileinfo(len(hdulist) - 1)
        header = hdulist[-1].header
        return info["datLoc"] + header.get("THEAP", header["NAXIS1"] * header["NAXIS2"]) + 7


def _corrupt_offset(body, span):
    """The byte a ``"corrupt"`` fault changes (one of the compressed pixels), if the part ``span`` of ``body``
    (whole file: None) holds it, else None: one request per transfer takes the fault."""
    offset = _heap(body)
    return offset if span is None or span[0] <= offset <= span[1] else None


def _corrupt(body, offset):
    """``body`` with the byte at ``offset`` changed; size and structure unchanged."""
    return body[:offset] + bytes([body[offset] ^ 0x55]) + body[offset + 1 :]



class _Server(ThreadingHTTPServer):
    """A threaded HTTP server with a listen backlog of a real web server's size (socketserver's default is 5:
    parfive opens a connection per byte range of every file at once, and with a busy accept thread the
    kernel drops the connections beyond the backlog, which the client sees as connection timeouts)."""

    request_queue_size = 128

class _ExportHandler(_Handler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        jsoc = self.server.jsoc
        with jsoc._lock:
            jsoc.connections += 1
        if jsoc.latency:
            jsoc._stop.wait(jsoc.latency)

    def _span(self, size):
        """The requested part ``(first, last)`` of a file of ``size`` bytes; None: all of it; ``()``: past the end."""
        match = _RANGE.match(self.headers.get("Range", "").replace(" ", ""))
        if match is None or self.server.jsoc.ranges is not True:
            return None
        first, last = int(match[1]), min(int(match[2] or size - 1), size - 1)
        return (first, last) if first <= last else ()

    def _serve_file(self, path, body):
        jsoc = self.server.jsoc
        span = self._span(len(body))
        jsoc.file_requests.append((path, self.headers.get("Range")))
        jsoc.file_connections.add(self.client_address)
        if span == ():
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(body)}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        fault = jsoc._take_fault(self.path, lambda f: f != "corrupt" or _corrupt_offset(body, span) is not None)
        if fault == "corrupt":
            body, fault = _corrupt(body, _corrupt_offset(body, span)), None
        part = body if span is None else body[span[0] : span[1] + 1]
        self.send_response(200 if span is None else 206)
        self.send_header("Content-Type", "application/octet-stream")
        if jsoc.ranges:
            self.send_header("Accept-Ranges", "bytes")
        if span is not None:
            self.send_header("Content-Range", f"bytes {span[0]}-{span[1]}/{len(body)}")
        self.send_header("Content-Length", str(len(part)))
        self.end_headers()
        try:
            if fault == "stall":
                self.wfile.write(part[: len(part) // 3])
                self.wfile.flush()
                jsoc._stop.wait(jsoc.stall_seconds)
                self.close_connection = True
            elif fault == "truncate":
                self.wfile.write(part[: len(part) // 2])
                self.close_connection = True
            elif fault == "trickle":
                self._trickle(part)
            else:
                clock = [time.monotonic()]  # this transfer's own schedule (per_connection)
                for start in range(0, len(part), _CHUNK):
                    chunk = part[start : start + _CHUNK]
                    if jsoc.bandwidth is not None:
                        jsoc.throttle(len(chunk), clock)
                    self.wfile.write(chunk)
        except (BrokenPipeError, ConnectionResetError):  # the client went away (killed, interrupted)
            self.close_connection = True
        return None

    def do_HEAD(self):
        jsoc = self.server.jsoc
        path = urllib.parse.urlparse(self.path).path
        body = jsoc.files.get(path)
        jsoc.file_connections.add(self.client_address)
        self.send_response(200 if body is not None else 404)
        if body is not None and jsoc.ranges:
            self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()

    def do_GET(self):
        jsoc = self.server.jsoc
        parsed = urllib.parse.urlparse(self.path)
        params = dict(urllib.parse.parse_qsl(parsed.query))
        ours = parsed.path == "/cgi-bin/ajax/jsoc_fetch" or (
            parsed.path == "/cgi-bin/ajax/jsoc_info" and params.get("ds", "").split("[")[0].split("{")[0] in SERIES
        )
        if not ours and not parsed.path.startswith("/EXPORT/"):
            return super().do_GET()
        jsoc.requests.append(self.path)
        if parsed.path.startswith("/EXPORT/"):
            body = jsoc.files.get(parsed.path)
            return self._send(404, b"") if body is None else self._serve_file(parsed.path, body)
        fault = jsoc._take_fault(self.path)
        if self._server_fault(fault):
            return None
        answer = jsoc.fetch(params) if parsed.path.endswith("jsoc_fetch") else jsoc.lev1_info(params)
        return self._send(200, json.dumps(answer).encode("latin1"), "application/json")


class LoopbackExport(LoopbackJSOC):
    """The loopback JSOC with level-1 exports; see the module docstring."""

    stall_seconds = 20.0

    def __init__(self):
        self.pending_polls, self.bandwidth, self.quality, self.missing = 2, None, {}, set()
        self.per_connection, self.ranges, self.file_requests = False, True, []
        self.latency, self.connections, self.file_connections = 0.0, 0, set()
        self.exports, self.image_paths, self.spikes_paths = {}, {}, {}
        self._ids = itertools.count(1)
        self._next_send = 0.0
        self._bandwidth_lock = threading.Lock()
        super().__init__()

    def reset(self):
        """Back to the defaults: no faults, exports pending for 2 polls, full speed, no latency, byte ranges
        served, every record intact; the connection count restarts."""
        self.faults.clear()
        self.requests.clear()
        self.file_requests.clear()
        self.pending_polls, self.bandwidth, self.quality, self.missing = 2, None, {}, set()
        self.per_connection, self.ranges = False, True
        self.latency, self.connections, self.file_connections = 0.0, 0, set()

    def _build(self):  # only the level-1 series (the base's calibration series are not needed here)
        lev1 = Series("aia.lev1_euv_12s", KEYWORDS, time_key="T_REC", segments=["image", "spikes"])
        maps = []
        for i, path in enumerate([*sample.FLARE_FILES, sample.AIA_171_CUTOUT]):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", fits.verify.VerifyWarning)  # BLANK of the float cutouts
                smap = read_map(path)
            maps.append(smap)
            header = smap.meta
            key = (t_rec(header), int(header["wavelnth"]))
            folder = f"/EXPORT/SUM{i + 1}/D{5000 + i}/S00000"
            self.image_paths[key], self.spikes_paths[key] = f"{folder}/image_lev1.fits", f"{folder}/spikes.fits"
            self.files[self.image_paths[key]] = jsoc_image_bytes(path)
            spikes = build_spikes(smap.data, map_offset(smap), count=10, seed=500 + i, rows=3, outside=50)
            self.files[self.spikes_paths[key]] = spikes_fits_bytes(spikes)
            lev1.records.append({
                "T_REC": key[0], "T_OBS": str(header["t_obs"]), "WAVELNTH": str(key[1]),
                "QUALITY": str(int(header.get("quality", 0))), "EXPTIME": str(header["exptime"]),
                "FSN": str(int(header["fsn"])),
            })  # fmt: skip
        self.series[lev1.name] = lev1
        with tempfile.TemporaryDirectory() as folder:
            table = astropy_ascii.read(write_header_pointing_table(maps, Path(folder) / "p.csv"), format="csv")
        types = {c: "time" if c.startswith("T_") else "double" for c in table.colnames}
        rows = [{c: str(row[c]) for c in table.colnames} for row in table]
        self.series["aia.master_pointing3h"] = Series("aia.master_pointing3h", types, time_key="T_START", records=rows)
        for name in SERIES[1:]:
            self.series[name] = Series(name, KEYWORDS, time_key="T_REC", segments=["image"])

    def add_frames(self, count, *, cadence=12.0, image=None):
        """
        Add ``count`` records of one level-1 image after its own record, ``cadence`` s apart, each with its own
        T_REC, T_OBS and FSN (re-compressed as the JSOC stores them); return their T_REC range. ``image``:
        ``(data, header)``, by default the real 769 x 705 cutout.
        """
        lev1 = self.series["aia.lev1_euv_12s"]
        with fits.open(sample.AIA_171_CUTOUT) as hdulist:
            hdu = next(h for h in hdulist if h.header.get("NAXIS") == 2)
            data, base = image if image is not None else (hdu.data, hdu.header)
            start = Time(base["T_REC"].rstrip("Z"), scale="utc")
            for i in range(1, count + 1):
                header = base.copy()
                t = start + i * cadence * u.s
                header["T_REC"], header["T_OBS"] = t.isot + "Z", (t + 0.6 * u.s).isot + "Z"
                header["FSN"] = base["FSN"] + 8 * i
                key = (t.strftime("%Y-%m-%dT%H:%M:%SZ"), int(header["WAVELNTH"]))
                buffer = io.BytesIO()
                fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(data, header, compression_type="RICE_1")]).writeto(
                    buffer, checksum=True
                )
                self.image_paths[key] = f"/EXPORT/SUMC/D{i}/S00000/image_lev1.fits"
                self.files[self.image_paths[key]] = buffer.getvalue()
                lev1.records.append({
                    "T_REC": key[0], "T_OBS": header["T_OBS"], "WAVELNTH": str(key[1]), "QUALITY": "0",
                    "EXPTIME": str(header["EXPTIME"]), "FSN": str(header["FSN"]),
                })  # fmt: skip
        return start + cadence * u.s, start + (count + 0.5) * cadence * u.s

    # ---- the protocol ----
    def _select(self, ds):
        match = _DS.match(ds.replace(" ", ""))
        if match is None or match[1] not in self.series:
            return None, [], []
        series = self.series[match[1]]
        records = series.select(_parse_filters(f"[{match[2] or ''}]"))
        if match[3]:
            channels = {c for c in match[3].split(",") if c}
            records = [r for r in records if r["WAVELNTH"] in channels]
        segments = [s for s in (match[4] or "").split(",") if s]
        return series, records, segments

    def _record(self, record):
        key = (record["T_REC"], int(record["WAVELNTH"]))
        return {**record, "QUALITY": str(self.quality.get(key, record["QUALITY"]))}

    def lev1_info(self, params):
        series, records, _ = self._select(params.get("ds", ""))
        if series is None:
            return {"status": 1, "error": f"cannot parse {params.get('ds')}"}
        if params.get("op") == "series_struct":
            return series.struct()
        keys = [k for k in params.get("key", "").split(",") if k]
        records = [self._record(r) for r in records]
        answer = {"status": 0, "count": len(records), "runtime": 0.001}
        answer["keywords"] = [{"name": k, "values": [r[k] for r in records]} for k in keys]
        return answer

    def _file_list(self, series, records, segments):
        data = []
        for record in records:
            key = (record["T_REC"], int(record["WAVELNTH"]))
            for segment in segments:
                paths = self.image_paths if segment == "image" else self.spikes_paths
                missing = segment == "image" and key in self.missing
                name = f"{series.name}[{key[0]}][{key[1]}]{{{segment}}}"
                data.append({"record": name, "filename": "NoDataFile" if missing else paths[key]})
        return data

    def fetch(self, params):
        op = params.get("op")
        if op == "exp_request":
            series, records, segments = self._select(params.get("ds", ""))
            if series is None or params.get("method") != "url_quick" or params.get("protocol") != "as-is":
                return {"status": 4, "error": f"bad export request {params}"}
            if "@" not in params.get("notify", ""):
                return {"status": 4, "error": "email address is not registered"}
            done = {"status": 0, "method": "url_quick", "protocol": "as-is", "dir": None, "wait": 0,
                    "count": len(records), "data": self._file_list(series, records, segments)}  # fmt: skip
            if not self.pending_polls:
                return {**done, "requestid": ""}
            request_id = f"JSOC_20110215_{next(self._ids):03d}"
            self.exports[request_id] = [self.pending_polls, {**done, "requestid": request_id}]
            return {"status": 2, "requestid": request_id, "method": "url_quick", "protocol": "as-is", "wait": 0.02}
        if op == "exp_status":
            export = self.exports.get(params.get("requestid"))
            if export is None:
                return {"status": 6, "error": "request not found"}
            if export[0] > 0:
                export[0] -= 1
                return {"status": 1, "requestid": params["requestid"], "wait": 0.02}
            return export[1]
        return {"status": 4, "error": f"unsupported op {op}"}

    def _take_fault(self, path, applies=None):
        """The first fault queued for ``path`` (and, if given, for which ``applies(fault)``), taken off the queue."""
        with self._lock:
            for i, (prefix, fault) in enumerate(self.faults):
                if path.startswith(prefix) and (applies is None or applies(fault)):
                    del self.faults[i]
                    return fault
        return None

    def throttle(self, nbytes, clock):
        """
        Sleep so that all transfers together (or, with `per_connection`, the transfer whose schedule is the
        one-element list ``clock``) stay within `bandwidth` bytes per second.
        """
        now = time.monotonic()
        if self.per_connection:
            clock[0] = max(now, clock[0]) + nbytes / self.bandwidth
            wake = clock[0]
        else:
            with self._bandwidth_lock:
                self._next_send = max(now, self._next_send) + nbytes / self.bandwidth
                wake = self._next_send
        time.sleep(max(wake - now, 0.0))

    def start(self):
        self._server = _Server(("127.0.0.1", 0), _ExportHandler)
        self._server.daemon_threads = True
        self._server.jsoc = self
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self
