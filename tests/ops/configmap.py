"""A Kubernetes ConfigMap volume, simulated as the kubelet writes it (its AtomicWriter):
the files live in a ..<timestamp> directory, ..data is a symlink to it, and each visible
name is a symlink through ..data. An update writes a new timestamped directory, points a
temporary link at it, renames that link over ..data (atomic) and removes the old one."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path


class ConfigMapVolume:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)

    def write(self, files: dict[str, str]) -> Path:
        """Publish `files` as the new version; returns the new timestamped directory."""
        stamp = time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime())
        version = Path(tempfile.mkdtemp(prefix=stamp, dir=self.path))
        for name, text in files.items():
            (version / name).write_text(text)
        data = self.path / "..data"
        old = Path(os.readlink(data)) if data.is_symlink() else None
        tmp = self.path / "..data_tmp"
        os.symlink(version.name, tmp)
        os.rename(tmp, data)  # the one atomic step: readers see the old or the new set
        for name in files:
            link = self.path / name
            if not link.is_symlink():
                os.symlink(f"..data/{name}", link)
        if old is not None:
            shutil.rmtree(self.path / old)
        return version
