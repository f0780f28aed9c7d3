"""
Writing uncompressed FITS images with CHECKSUM and DATASUM in one pass over the data.

Astropy's ``writeto(checksum=True)`` converts the image to big-endian, then computes the data sum in a
second, slower pass over the data. Here the data go through a small buffer one block at a time: each block
is converted to big-endian, summed as 32-bit words and written while it is still in the processor's cache,
so no frame-sized copy is made (nor its fresh pages faulted in). The header goes first with placeholder
checksums and is written again, in place, once the data sum is known (figures:
``benchmarks/bench_io.py``). The header is built by astropy (`~astropy.io.fits.PrimaryHDU` /
`~astropy.io.fits.ImageHDU` add the structural keywords), so only the checksums are computed here, as the
FITS standard defines them.

References
----------
.. [1] FITS Standard 4.0, Appendix J: "Header and data unit checksums" (the 32-bit ones' complement sum,
   and the 16-character ASCII encoding of its complement); Seaman, Pence & Rots (2002), "FITS Checksum
   Proposal".
"""

import numpy as np
from astropy.io import fits

__all__ = ["write_images"]

_BLOCK = 2880
#: Bytes converted, summed and written at a time: a power of two (whole 32-bit words for every FITS type),
#: small enough to stay in the cache between the three.
_CHUNK = 1 << 20
_WORD = 0xFFFFFFFF
#: Punctuation between the digits and the letters, which the encoded checksum avoids.
_EXCLUDED = (0x3A, 0x3B, 0x3C, 0x3D, 0x3E, 0x3F, 0x40, 0x5B, 0x5C, 0x5D, 0x5E, 0x5F, 0x60)


def _fold(total):
    """Fold the carries of a sum of 32-bit words back in: the 32-bit ones' complement sum."""
    while total > _WORD:
        total = (total & _WORD) + (total >> 32)
    return total


def _words_sum(buffer):
    """
    Ones' complement sum of a byte buffer read as big-endian 32-bit words; a last partial word is completed
    with zeros (the FITS padding that follows it).
    """
    buffer = memoryview(buffer).cast("B")
    whole = len(buffer) - len(buffer) % 4
    total = int(np.add.reduce(np.frombuffer(buffer[:whole], dtype=">u4"), dtype=np.uint64))  # < 2**32 words
    if whole < len(buffer):
        total += int.from_bytes(bytes(buffer[whole:]).ljust(4, b"\0"), "big")
    return _fold(total)


def _encode(value):
    """The 16-character ASCII encoding of a 32-bit value, as in the standard's ``char_encode``."""
    chars = [0] * 16
    for i in range(4):
        byte = (value >> (24 - 8 * i)) & 0xFF
        group = [byte // 4 + 0x30] * 4
        group[0] += byte % 4
        changed = True
        while changed:
            changed = False
            for excluded in _EXCLUDED:
                for j in (0, 2):
                    if excluded in (group[j], group[j + 1]):
                        group[j] += 1
                        group[j + 1] -= 1
                        changed = True
        for j in range(4):
            chars[4 * j + i] = group[j]
    text = "".join(map(chr, chars))
    return text[-1] + text[:-1]  # rotated one place: the value starts at byte 11 (3 mod 4) of its card


def _write_data(file, data):
    """
    Write ``data`` to ``file`` as big-endian bytes, `_CHUNK` bytes at a time, with the FITS padding; return
    the data sum.
    """
    flat = np.ravel(data)
    chunk = np.empty(_CHUNK // flat.itemsize, flat.dtype.newbyteorder(">"))
    total = 0
    for start in range(0, flat.size, len(chunk)):
        part = chunk[: flat.size - start]
        np.copyto(part, flat[start : start + len(part)])  # byte order converted here
        total += _words_sum(part)  # every part but the last is whole 32-bit words
        file.write(part.data)
    file.write(b"\0" * (-flat.nbytes % _BLOCK))
    return _fold(total)


def _card_offset(header, keyword):
    """Where the card of ``keyword`` starts in ``header.tostring()`` (a long string takes several lines)."""
    return sum(len(str(card)) for card in header.cards[: header.index(keyword)])


def _replace_card(text, header, keyword, value, comment):
    """``text`` (``header.tostring()``) with the one-line card of ``keyword`` replaced, formatted by astropy."""
    start = _card_offset(header, keyword)
    return text[:start] + str(fits.Card(keyword, value, comment)) + text[start + 80 :]


def write_images(path, images):
    """
    Write images as an uncompressed FITS file, each HDU with CHECKSUM and DATASUM.

    Parameters
    ----------
    path : path-like
        The file, created or replaced.
    images : sequence of (`numpy.ndarray`, `~astropy.io.fits.Header`)
        The first becomes the primary HDU, the others IMAGE extensions. The data are written in their own
        float or integer type (big-endian, as FITS requires); neither the data nor the headers are modified.
    """
    with open(path, "wb") as file:
        for index, (data, header) in enumerate(images):
            hdu = (fits.PrimaryHDU if index == 0 else fits.ImageHDU)(data=data, header=header)  # copies header
            if index == 0:  # as astropy writes it (and adds it when reading a file with extensions)
                hdu.header.set("EXTEND", True, after=f"NAXIS{data.ndim}")
            hdu.header["DATASUM"] = ("0", "data unit checksum")
            hdu.header["CHECKSUM"] = ("0" * 16, "HDU checksum")  # the value the checksum is computed with
            text = hdu.header.tostring()
            offset = file.tell()
            file.write(text.encode("ascii"))  # placeholder: written again below with the sums
            datasum = _write_data(file, data)
            text = _replace_card(text, hdu.header, "DATASUM", str(datasum), "data unit checksum")
            total = _fold(_words_sum(text.encode("ascii")) + datasum)
            text = _replace_card(text, hdu.header, "CHECKSUM", _encode(_WORD - total), "HDU checksum")
            end = file.tell()
            file.seek(offset)
            file.write(text.encode("ascii"))
            file.seek(end)
