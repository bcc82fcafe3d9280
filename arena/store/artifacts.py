"""Binary outputs (PNG, GLB) on disk, addressed by their SHA-256.

Content addressing makes writes idempotent and safe to repeat, lets identical
outputs share one file, and gives URLs that can be cached forever.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

SHA256 = re.compile(r"^[0-9a-f]{64}$")
SUFFIX = {"image/png": ".png", "model/gltf-binary": ".glb"}
MEDIA_TYPE = {suffix: media for media, suffix in SUFFIX.items()}


class ArtifactStore:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def put(self, data: bytes, media_type: str) -> str:
        if media_type not in SUFFIX:
            raise ValueError(f"unsupported artifact type {media_type!r}")
        digest = hashlib.sha256(data).hexdigest()
        path = self._path(digest, SUFFIX[media_type])
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            # write-then-rename: a reader never sees a half-written file
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                os.replace(tmp, path)
            except BaseException:  # a full disk: no half-written file is left behind
                Path(tmp).unlink(missing_ok=True)
                raise
        return digest

    def find(self, digest: str) -> tuple[Path, str] | None:
        """The file and media type for a digest, or None (also for malformed digests)."""
        if not SHA256.match(digest):
            return None
        for suffix, media_type in MEDIA_TYPE.items():
            path = self._path(digest, suffix)
            if path.exists():
                return path, media_type
        return None

    def get(self, digest: str) -> bytes | None:
        found = self.find(digest)
        return found[0].read_bytes() if found else None

    def _path(self, digest: str, suffix: str) -> Path:
        return self.root / digest[:2] / f"{digest}{suffix}"
