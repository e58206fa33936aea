"""Every downloadable data set in one place: official URL and checksum, and the lookup order

    1. the project's data cache (``labutils.config.cache_dir()``)
    2. the offline mirror directory named by ``RNNLAB_DATA_MIRROR``
    3. a download from the official URL with pooch (streamed to disk, checksum verified)
    4. otherwise an error that says exactly what to download and where to put it.
"""
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from labutils.config import cache_dir, mirror_dir


@dataclass(frozen=True)
class Remote:
    name: str        # what the notebooks call it
    filename: str    # the archive's file name, in the cache and in a mirror
    url: str
    md5: str
    extracted: str   # the folder the archive unpacks to (a mirror may hold this instead)


REGISTRY = {
    "imdb": Remote("imdb", "aclImdb_v1.tar.gz", "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
                   "7c2ac02c03563afcf9b574c7e56c153a", "aclImdb"),
    "glove6b": Remote("glove6b", "glove.6B.zip", "https://nlp.stanford.edu/data/glove.6B.zip",
                      "056ea991adb4740ac6bf1b6d9b50408b", "glove.6B"),
}


class DataNotFoundError(FileNotFoundError):
    """Raised when a data set is in no cache, no mirror, and cannot be downloaded."""


def md5sum(path, chunk=1 << 20):
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def missing_message(remote, reason):
    mirror = mirror_dir()
    return (f"{remote.name}: {reason}.\n"
            f"Download {remote.url} (md5 {remote.md5}) and either\n"
            f"  - put {remote.filename} (or its extracted {remote.extracted}/ folder) in {cache_dir()}, or\n"
            f"  - put it in a mirror folder and set RNNLAB_DATA_MIRROR to that folder"
            + (f" (now {mirror})" if mirror else "") + ".")


def fetch_archive(remote, download=True):
    """Path of the verified archive: from the cache, the mirror (copied to the cache), or pooch.

    A file whose md5 does not match is never used: it is reported as corrupt.
    """
    import pooch  # imported here: only this path needs it
    cached = cache_dir() / remote.filename
    if cached.exists():
        if md5sum(cached) == remote.md5:
            return cached
        raise DataNotFoundError(missing_message(
            remote, f"the cached {cached} is corrupt (md5 {md5sum(cached)}); delete it"))
    mirror = mirror_dir()
    if mirror and (mirror / remote.filename).exists():
        candidate = mirror / remote.filename
        if md5sum(candidate) != remote.md5:
            raise DataNotFoundError(missing_message(remote, f"the mirror copy {candidate} is corrupt "
                                                             f"(md5 {md5sum(candidate)}); replace it"))
        return candidate
    if not download or os.environ.get("RNNLAB_OFFLINE"):
        raise DataNotFoundError(missing_message(remote, "not found in the cache or the mirror, "
                                                        "and downloads are off"))
    try:
        return Path(pooch.retrieve(
            remote.url, known_hash=f"md5:{remote.md5}", fname=remote.filename, path=cache_dir(),
            progressbar=True))
    except Exception as err:   # no network, HTTP error, checksum mismatch: all end the same way
        raise DataNotFoundError(missing_message(remote, f"the download failed ({type(err).__name__}: {err})")) from err
