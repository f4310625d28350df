"""One validator for every outside input: names, versions, webhook URLs and free text.

Names are an ASCII allow-list matched in full (no '/', '\\', '%', ';', spaces, control
characters or look-alike Unicode; no '..'), so a valid name is safe in file paths, URLs,
BentoML tags, MLflow filters and build files. Webhook hosts that are loopback, private,
link-local (cloud metadata) or otherwise internal are refused in every spelling (dotted,
decimal, hex, octal, IPv6, IPv4-mapped) unless the policy allows the host by name; nothing is
resolved or contacted to decide. Free text is kept verbatim and never interpreted.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import urllib.parse
from collections.abc import Iterable
from typing import TypeGuard

from mlgov.governance.errors import BadInput

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
MAX_TEXT = 10_000
METADATA_HOSTS = frozenset(
    {"localhost", "metadata", "metadata.google.internal", "instance-data", "metadata.azure.com"}
)


def shown(value: object, limit: int = 40) -> str:
    """A value as it may appear in an error message: escaped, shortened."""
    text = value if isinstance(value, str) else str(value)
    escaped = text.encode("unicode_escape").decode("ascii")
    return escaped if len(escaped) <= limit else escaped[:limit] + "..."


def is_name(value: object) -> TypeGuard[str]:
    """The name rule: safe in file paths, URLs, BentoML tags, MLflow filters, build files."""
    return isinstance(value, str) and bool(NAME.fullmatch(value)) and ".." not in value


def name(value: object, what: str) -> str:
    if not is_name(value):
        raise BadInput(
            f"{what} '{shown(value)}' is not allowed: use 1-128 characters from letters, digits, "
            "'_', '.', '-', starting with a letter or digit, without '..'"
        )
    return value


def model_name(value: object) -> str:
    return name(value, "model name")


def target_name(value: object) -> str:
    return name(value, "target name")


def version(value: object) -> str:
    text = str(value).strip()
    if not text.isdigit() or int(text) < 1 or len(text) > 12:
        raise BadInput(f"model version '{shown(text)}' is not a positive whole number")
    return str(int(text))


def free_text(value: str | None, what: str, *, required: bool = False) -> str | None:
    """Comments and reasons: stored verbatim. Only what no store can keep is refused."""
    if value is None or not value.strip():
        if required:
            raise BadInput(f"{what} must not be empty")
        return None if value is None else value
    if "\x00" in value:
        raise BadInput(f"{what} contains a NUL character")
    if len(value) > MAX_TEXT:
        raise BadInput(f"{what} is longer than {MAX_TEXT} characters")
    if LINE_BREAKING.search(value):
        # A newline or escape in a one-line field can forge rows in table output.
        raise BadInput(
            f"{what} contains a control, line-separator or bidi-override character; "
            "give it on one line of plain text"
        )
    return value


# C0 controls (tab and newline included), DEL, C1, U+2028/2029, bidi embeddings/overrides/isolates.
LINE_BREAKING = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _ip_of(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a host literal denotes in any spelling, or None for a DNS name."""
    bare = host.strip("[]")
    try:
        return ipaddress.ip_address(bare.split("%")[0])
    except ValueError:
        pass
    if re.fullmatch(r"[0-9a-fA-FxX.]+", bare):
        try:  # legacy forms every resolver accepts: 2130706433, 0x7f000001, 0177.0.0.1, 127.1
            return ipaddress.IPv4Address(socket.inet_aton(bare))
        except OSError:
            return None
    return None


def _internal(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def webhook_url(url: object, *, allowed_hosts: Iterable[str] = ()) -> str:
    if not isinstance(url, str) or any(c.isspace() or ord(c) < 32 for c in url):
        raise BadInput(f"webhook URL '{shown(url)}' must be one http(s) URL without spaces")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadInput(f"webhook URL '{shown(url)}' must be http:// or https:// with a host")
    if parts.username or parts.password:
        raise BadInput("webhook URL must not carry a user name or password")
    host = parts.hostname.lower().rstrip(".")
    if host in {h.lower() for h in allowed_hosts}:
        return url
    ip = _ip_of(host)
    if (
        (ip is not None and _internal(ip))
        or host in METADATA_HOSTS
        or host.endswith((".internal", ".local", ".localhost"))
    ):
        raise BadInput(
            f"webhook host '{shown(host)}' is internal (loopback, private, link-local or "
            "metadata): add it to notifications.webhook_allowed_hosts if it is really meant"
        )
    return url


RUN_ID = re.compile(r"[0-9a-f]{32}")
LOGGED_MODEL_ID = re.compile(r"m-[0-9a-f]{32}")
# MLflow's alias rule (the registry adapter also refuses the names MLflow reserves).
ALIAS = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,254}")
_PATH_PART = re.compile(r"[A-Za-z0-9_.-]{1,128}")


def model_uri(uri: object) -> str:
    """models:/NAME/VERSION, models:/NAME@ALIAS, models:/m-<id> or runs:/<run id>/<path>:
    an allow-list of schemes and shapes, checked before anything is looked up."""
    text = uri if isinstance(uri, str) else ""
    problem = (
        f"model URI '{shown(uri)}' is not allowed: use models:/NAME/VERSION, "
        "models:/NAME@ALIAS, models:/m-<logged model id> or runs:/<run id>/<path>"
    )
    scheme, sep, rest = text.partition(":/")
    if (
        not sep
        or rest.startswith("/")
        or any(c in rest for c in "%\\?#")
        or any(ord(c) < 33 or ord(c) > 126 for c in rest)
    ):
        raise BadInput(problem)
    parts = rest.split("/")
    if scheme == "models":
        if len(parts) == 2 and is_name(parts[0]) and parts[1].isdigit():
            return text
        if len(parts) == 1 and (
            LOGGED_MODEL_ID.fullmatch(parts[0])
            or (
                "@" in parts[0]
                and NAME.fullmatch(parts[0].partition("@")[0])
                and ALIAS.fullmatch(parts[0].partition("@")[2])
            )
        ):
            return text
    if (
        scheme == "runs"
        and len(parts) >= 2
        and RUN_ID.fullmatch(parts[0])
        and all(_PATH_PART.fullmatch(p) and p not in (".", "..") for p in parts[1:])
    ):
        return text
    raise BadInput(problem)
