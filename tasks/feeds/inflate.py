"""Gzip bodies inflated with a cap: a small compressed body cannot become a huge one in memory."""

from __future__ import annotations

import zlib


class BodyTooLarge(ValueError):
    """The (decompressed) body passed the cap."""


class Inflater:
    """Decompress gzip/deflate/identity bodies chunk by chunk, never past `limit` bytes out."""

    def __init__(self, content_encoding: str, limit: int) -> None:
        encodings = [e.strip().lower() for e in content_encoding.split(",") if e.strip()]
        encodings = [e for e in encodings if e != "identity"]
        if len(encodings) > 1:
            raise ValueError(f"stacked Content-Encoding {content_encoding!r} is not supported")
        self.encoding = encodings[0] if encodings else "identity"
        if self.encoding not in ("identity", "gzip", "x-gzip", "deflate"):
            raise ValueError(f"Content-Encoding {self.encoding!r} is not supported")
        self.limit = limit
        self.size = 0
        self._zlib: zlib._Decompress | None = None
        self._raw_deflate_tried = False

    def feed(self, data: bytes) -> bytes:
        """Decompressed bytes for the next chunk of the body."""
        if self.encoding == "identity":
            return self._count(data)
        if self._zlib is None:
            self._zlib = self._new()
        out = bytearray()
        while data:
            try:
                piece = self._zlib.decompress(data, self.limit - self.size + 1)
            except zlib.error:
                # Some servers send raw deflate under "deflate"; retry once without the header.
                if self.encoding != "deflate" or self._raw_deflate_tried or self.size or out:
                    raise
                self._raw_deflate_tried = True
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                continue
            out += self._count(piece)
            data = self._zlib.unconsumed_tail
            if self._zlib.eof:
                data = self._zlib.unused_data
                if data and self.encoding != "deflate":  # another gzip member follows
                    self._zlib = self._new()
                else:
                    break
        return bytes(out)

    def flush(self) -> bytes:
        """Whatever the decompressor still holds at the end of the body."""
        if self._zlib is None:
            return b""
        return self._count(self._zlib.flush())

    def _new(self) -> zlib._Decompress:
        bits = zlib.MAX_WBITS | 16 if self.encoding in ("gzip", "x-gzip") else zlib.MAX_WBITS
        return zlib.decompressobj(bits)

    def _count(self, data: bytes) -> bytes:
        self.size += len(data)
        if self.size > self.limit:
            raise BodyTooLarge(f"body is over the {self.limit} byte cap")
        return data


def gunzip_capped(data: bytes, limit: int) -> bytes:
    """Decompress a gzip body served without Content-Encoding, never past `limit` bytes."""
    inflater = Inflater("gzip", limit)
    return inflater.feed(data) + inflater.flush()
