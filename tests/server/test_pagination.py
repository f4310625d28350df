"""Lists page with a cursor on request (issue 18): the whole list as before without `limit`,
keyset pages with `Link: rel="next"` with it; a cursor names its list and its last key."""

from __future__ import annotations

from typing import Any

import pytest
from support.server_home import ADMIN, Governed

from mlgov.server.app import PREFIX


@pytest.fixture(scope="module")
def client(governed: Governed) -> Any:
    with governed.app() as c:
        yield c


def _walk(client: Any, governed: Governed, path: str, limit: int) -> tuple[list[Any], int]:
    """Every item by following the next links; the number of pages."""
    items: list[Any] = []
    url: str | None = f"{path}?limit={limit}"
    pages = 0
    while url:
        r = client.get(url, headers=governed.bearer("admin"))
        assert r.status_code == 200, r.text
        page = r.json()
        assert isinstance(page, list) and len(page) <= limit
        items += page
        pages += 1
        link = r.headers.get("link")
        assert (link is None) == (r.headers.get("x-next-cursor") is None)
        url = link[1 : link.index(">")] if link else None
        assert pages < 50
    return items, pages


@pytest.mark.parametrize(
    "path", ["/users", "/tokens", "/models", "/approval-requests", "/inventory"]
)
def test_pages_add_up_to_the_whole_list(client: Any, governed: Governed, path: str) -> None:
    whole = client.get(PREFIX + path, headers=governed.bearer("admin"))
    assert whole.status_code == 200 and "link" not in whole.headers
    rows = whole.json()
    assert rows, path
    items, pages = _walk(client, governed, PREFIX + path, 2)
    assert items == rows
    assert pages == -(-len(rows) // 2)  # a full last page has no next link


def test_an_item_added_between_pages_shifts_nothing(client: Any, governed: Governed) -> None:
    admin = governed.bearer("admin")
    first = client.get(f"{PREFIX}/users?limit=3", headers=admin)
    seen = [u["name"] for u in first.json()]
    added = client.post(
        f"{PREFIX}/users", json={"name": "aaa-early", "roles": ["auditor"]}, headers=admin
    )
    assert added.status_code == 201, added.text
    rest = client.get(
        f"{PREFIX}/users",
        params={"limit": 100, "cursor": first.headers["x-next-cursor"]},
        headers=admin,
    )
    names = seen + [u["name"] for u in rest.json()]
    assert "aaa-early" not in names  # sorts before the cursor: on no page of this walk
    assert len(names) == len(set(names)) and names == sorted(names)
    client.delete(f"{PREFIX}/users/aaa-early", headers=admin)


def test_a_cursor_works_only_on_its_own_list(client: Any, governed: Governed) -> None:
    admin = governed.bearer("admin")
    cursor = client.get(f"{PREFIX}/users?limit=1", headers=admin).headers["x-next-cursor"]
    for path, bad in (
        ("/tokens", cursor),  # another list's
        ("/users", "not-a-cursor"),
        ("/users", "WyIvYXBpL3YxL3VzZXJzIixbMV1d"),  # this list, a number where a name sorts
        ("/users", "WyIvYXBpL3YxL3VzZXJzIixbImEiLCJiIl1d"),  # this list, two keys for one
    ):
        r = client.get(PREFIX + path, params={"cursor": bad}, headers=admin)
        assert r.status_code == 400, (path, bad, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert "cursor is not one this server gave out" in r.json()["detail"]
    for limit in ("0", "1001", "x"):
        r = client.get(f"{PREFIX}/users", params={"limit": limit}, headers=admin)
        assert r.status_code == 422, (limit, r.text)
    assert ADMIN in [u["name"] for u in client.get(f"{PREFIX}/users", headers=admin).json()]
