"""Canonical URLs: one spelling per page, so the same article from two places is one identity."""

from __future__ import annotations

import re
from urllib.parse import quote, unquote_plus, urljoin, urlsplit, urlunsplit

# Parameters that say how a reader arrived, not which page it is (Miniflux, ClearURLs lists).
TRACKING_PARAMS = frozenset(
    {
        "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid",
        "igshid", "mc_cid", "mc_eid", "_hsenc", "_hsmi", "hsctatracking", "mkt_tok", "oly_anr_id",
        "oly_enc_id", "vero_conv", "vero_id", "wickedid", "rb_clickid", "s_cid", "ncid", "sr_share",
        "ocid", "cmpid", "_ga", "_gl", "ref_src", "ref_url", "at_medium", "at_campaign",
        "at_custom1", "at_custom2", "at_custom3", "at_custom4", "ito", "__twitter_impression",
    }
)  # fmt: skip
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "itm_", "matomo_", "hmb_", "stm_")

_DEFAULT_PORTS = {"http": 80, "https": 443}
_LINE_BREAKS = re.compile(r"\s*[\r\n]+\s*")
_SAFE = "/%:@!$&'()*+,;=-._~"


def is_tracking_param(name: str) -> bool:
    """True for query parameters that only track the visit."""
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def canonical_url(url: str | None, *, base: str | None = None) -> str | None:
    """`url` resolved against `base`, lower-cased scheme and host, default port, fragment and
    tracking parameters dropped; None unless the result is an absolute http(s) URL."""
    if not url:
        return None
    url = _LINE_BREAKS.sub("", url.strip())  # feeds wrap long links over several lines
    if base:
        url = urljoin(base, url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".").lower()
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    # The netloc is rebuilt from host and port: credentials are no part of a page's identity.
    path = quote(parts.path or "/", safe=_SAFE)
    # Raw tokens are kept as written, so only the tracking ones change the spelling.
    tokens = [t for t in parts.query.split("&") if t and not is_tracking_param(_name(t))]
    query = "&".join(quote(t, safe=_SAFE + "?") for t in tokens)
    return urlunsplit((scheme, netloc, path, query, ""))


def _name(token: str) -> str:
    return unquote_plus(token.split("=", 1)[0])
