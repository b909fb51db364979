"""What the loopback Azure holds: resources by ARM id, server-side facts about them, long-running operations.

ARM ids are case-insensitive, so resources are keyed by the lower-cased id and keep the id's spelling in
their body. With a ``path`` the whole store is written there (atomically) after every change and read back
at start, so that a restarted server, or a killed client's next run, sees the same "Azure".
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

FORMAT = 1


class Store:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.lock = threading.RLock()
        self.resources: dict[str, dict[str, Any]] = {}
        # facts the REST representation does not show: creation time (ordering), a job's timeline, ...
        self.meta: dict[str, dict[str, Any]] = {}
        self.operations: dict[str, dict[str, Any]] = {}
        # the server's own facts that outlive a restart (the secret its tokens are signed with)
        self.facts: dict[str, Any] = {}
        self.dirty = False
        if path is not None and path.is_file():
            data = json.loads(path.read_text())
            self.resources = data["resources"]
            self.meta = data["meta"]
            self.operations = data["operations"]
            self.facts = data["facts"]
        # lists are frequent (refresh reads through them): the keys of each collection, and the running operations
        self._collections: dict[str, dict[str, None]] = {}
        for key in self.resources:
            self._collections.setdefault(key.rsplit("/", 1)[0], {})[key] = None
        self.running = {op_id for op_id, op in self.operations.items() if op["status"] == "InProgress"}

    # resources -------------------------------------------------------------------------------------------
    def get(self, rid: str) -> dict[str, Any] | None:
        return self.resources.get(rid.lower())

    def meta_of(self, rid: str) -> dict[str, Any]:
        return self.meta.setdefault(rid.lower(), {})

    def put(self, rid: str, body: dict[str, Any]) -> None:
        key = rid.lower()
        self.resources[key] = body
        self._collections.setdefault(key.rsplit("/", 1)[0], {})[key] = None
        self.dirty = True

    def delete(self, rid: str) -> None:
        """The resource and everything under it (an endpoint's deployments, a container's versions)."""
        key = rid.lower()
        for k in [k for k in self.resources if k == key or k.startswith(key + "/")]:
            del self.resources[k]
            self.meta.pop(k, None)
            self._collections.get(k.rsplit("/", 1)[0], {}).pop(k, None)
        self.dirty = True

    def children(self, collection: str) -> list[dict[str, Any]]:
        """The resources directly in a collection (``.../data/iris/versions``), in creation order."""
        keys = self._collections.get(collection.lower().rstrip("/"), {})
        found = [(self.meta.get(k, {}).get("created", 0.0), i, self.resources[k]) for i, k in enumerate(keys)]
        return [body for _c, _i, body in sorted(found, key=lambda t: (t[0], t[1]))]

    def clear(self) -> None:
        self.resources.clear()
        self.meta.clear()
        self.operations.clear()
        self._collections.clear()
        self.running.clear()
        self.dirty = True

    # persistence -----------------------------------------------------------------------------------------
    def save(self) -> None:
        """Write the store if it changed (no-op without a path)."""
        if self.path is None or not self.dirty:
            return
        data = {
            "format": FORMAT,
            "resources": self.resources,
            "meta": self.meta,
            "operations": self.operations,
            "facts": self.facts,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, self.path)
        self.dirty = False
