"""What every data set shares: the data folder, finding a local copy, downloading."""

import contextlib
import hashlib
import logging
import os
import tempfile
import zipfile
import zlib
from collections import namedtuple
from pathlib import Path
from urllib.request import urlopen

logger = logging.getLogger(__name__)

DATA_HOME_ENV = "SKSIAMESE_DATA"

_CHUNK = 1 << 20

RemoteFile = namedtuple(
    "RemoteFile", "filename url sha256 size member", defaults=[None]
)
RemoteFile.__doc__ = """A file of a data set's official release.

``filename`` is the name the file is kept under in the data folder, ``sha256``
and ``size`` (in bytes) describe that file. Where the release serves it inside
a zip file, ``url`` is the zip file's address and ``member`` the file's name
in it; otherwise ``url`` serves the file itself and ``member`` is None.
"""


def get_data_home(data_home=None):
    """Return the folder where sksiamese keeps downloaded data sets.

    By default ``~/sksiamese_data``; the environment variable
    ``SKSIAMESE_DATA`` overrides that default, and the ``data_home``
    argument overrides both. The folder is not created here: fetchers create
    it when they download.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder to use. ``None`` means ``$SKSIAMESE_DATA`` or
        ``~/sksiamese_data``. A leading ``~`` is expanded.

    Returns
    -------
    data_home : str
        The folder's path.

    Examples
    --------
    >>> from sksiamese.datasets import get_data_home
    >>> get_data_home("/tmp/my_data")
    '/tmp/my_data'
    """
    if data_home is None:
        data_home = os.environ.get(DATA_HOME_ENV) or os.path.join("~", "sksiamese_data")
    return os.path.expanduser(os.fspath(data_home))


def locate(
    remote, data_home, subfolder, *, download_if_missing, caller, folder_ok=False
):
    """The local copy of ``remote``, downloaded into ``data_home/subfolder`` if none.

    Looks in ``data_home/subfolder`` and in ``data_home`` itself, so that a
    folder holding the release's files as they are works. With ``folder_ok``,
    the folder a zip file extracts to (its name without ``.zip``) counts too.
    """
    home = Path(get_data_home(data_home))
    stem = remote.filename.removesuffix(".zip")
    for folder in (home / subfolder, home):
        if (folder / remote.filename).is_file():
            return folder / remote.filename
        if folder_ok and (folder / stem).is_dir():
            return folder / stem
    target = home / subfolder / remote.filename
    if not download_if_missing:
        how = (
            f"Download {remote.url}, extract {remote.member} to {target}"
            if remote.member
            else f"Download it from {remote.url} and put it at {target}"
            + (" (or extract it there)" if folder_ok else "")
        )
        raise FileNotFoundError(
            f"{caller} found no {remote.filename} in {home / subfolder} nor in "
            f"{home}. {how}, pass the data_home that holds it, or call {caller} "
            "with download_if_missing=True."
        )
    download(remote, target)
    return target


def _umask():
    """The process's umask, read without changing it where the system allows."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    mask = os.umask(0o022)  # elsewhere: set and restore at once
    os.umask(mask)
    return mask


def temp_file(path):
    """A temporary file beside ``path`` to write it atomically, and its path.

    ``mkstemp`` creates it readable by its owner only (0600); it is given the
    permissions a plain ``open`` would (0666 less the umask, 0644 under the
    usual 022), so that the file renamed to ``path`` is readable by the other
    users of a shared data folder, as the files beside it are.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        os.fchmod(fd, 0o666 & ~_umask())
    except OSError:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return os.fdopen(fd, "wb"), Path(tmp)


def make_folder(folder):
    """Create ``folder`` and its missing parents; return those created, outermost first.

    They get the umask's permissions (0755 under the usual 022), as ``mkdir``
    gives.
    """
    folder = Path(folder)
    missing = [f for f in (folder, *folder.parents) if not f.exists()][::-1]
    created = []
    for f in missing:
        try:
            f.mkdir()
        except FileExistsError:
            continue  # made meanwhile by another process: not ours to remove
        created.append(f)
    return created


def remove_folders(created):
    """Remove the folders ``make_folder`` created, innermost first, if empty."""
    for f in reversed(created):
        try:
            f.rmdir()
        except OSError:
            return  # not empty (another download, a file put there): keep it


def download(remote, path):
    """Download ``remote`` to ``path``, checking its size and SHA-256.

    The body is streamed to a temporary file in the same folder (never held
    in memory whole) and renamed to ``path`` only once complete and verified,
    so that an interrupted or corrupt download never leaves a file that looks
    like the real one; the folders created for it are removed again if it
    fails. A body larger than the file (or than a zip file holding it can
    be) is refused as it arrives. The file gets the umask's permissions, as
    one written with ``open`` would.
    """
    path = Path(path)
    created = make_folder(path.parent)
    by_hand = f"download the file by hand and put it at {path}" + (
        f" (extract {remote.member} from the zip file)" if remote.member else ""
    )
    logger.info("Downloading %s to %s", remote.url, path)
    # A zip file of one text file is at most a little larger than the file;
    # the slack leaves room for a release that adds a read-me beside it.
    max_body = remote.size if remote.member is None else 2 * remote.size + _CHUNK
    temps = []
    failed = True
    try:
        out, tmp = temp_file(path)
        temps.append(tmp)
        digest = hashlib.sha256()
        with out:
            try:
                response = urlopen(remote.url, timeout=60)
            except OSError as exc:
                raise OSError(
                    f"Could not download {remote.url}: {exc}. Check the network "
                    f"connection, or {by_hand}."
                ) from exc
            with response:
                received = 0
                while chunk := response.read(_CHUNK):
                    received += len(chunk)
                    if received > max_body:
                        raise OSError(
                            f"{remote.url} sends more than the {max_body} bytes "
                            f"{remote.filename} can take: not the file expected. "
                            f"Nothing was saved; {by_hand}."
                        )
                    digest.update(chunk)
                    out.write(chunk)
        if remote.member is not None:
            archive = tmp
            out, tmp = temp_file(path)
            temps.append(tmp)
            with out:
                digest = _extract(remote, archive, out, by_hand)
        if digest.hexdigest() != remote.sha256:
            raise OSError(
                f"{remote.filename} downloaded from {remote.url} has SHA-256 "
                f"{digest.hexdigest()}, not the expected {remote.sha256}: the "
                "download is corrupt or the file changed upstream. Nothing was "
                f"saved; try again, or {by_hand}."
            )
        os.replace(tmp, path)
        failed = False
    finally:
        for tmp in temps:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        if failed:
            # Nothing is left of a failed download, nor the folders made for it.
            remove_folders(created)


def _extract(remote, archive, out, by_hand):
    """Copy ``remote.member`` out of the zip file ``archive`` into ``out``."""
    digest = hashlib.sha256()
    try:
        with zipfile.ZipFile(archive) as zf:
            for chunk in iter_member(
                zf, remote.member, max_bytes=remote.size, archive=remote.url
            ):
                digest.update(chunk)
                out.write(chunk)
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise OSError(
            f"The file downloaded from {remote.url} is not a zip file holding "
            f"{remote.member} ({exc}). Nothing was saved; try again, or "
            f"{by_hand}."
        ) from None
    return digest


def iter_member(zf, name, *, max_bytes, archive):
    """The bytes of the member ``name`` of ``zf`` in chunks, ``max_bytes`` at most.

    The size the zip file's directory declares is checked before anything is
    decompressed, and the bytes are counted as they come, so that a member
    that lies about its size cannot make the reader hold more. A corrupt
    member raises a ``ValueError`` naming the archive and the member.
    """
    info = zf.getinfo(name)
    if info.file_size > max_bytes:
        raise ValueError(
            f"{name} in {archive} declares {info.file_size} bytes, more than the "
            f"{max_bytes} any file of this data set takes: the archive is not "
            "the release's file. Replace it with the official one."
        )
    try:
        with zf.open(info) as member:
            received = 0
            while chunk := member.read(_CHUNK):
                received += len(chunk)
                if received > max_bytes:
                    raise ValueError(
                        f"{name} in {archive} holds more than the {max_bytes} "
                        "bytes any file of this data set takes."
                    )
                yield chunk
    # zipfile raises NotImplementedError for a compression method it lacks.
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise ValueError(
            f"{name} in {archive} cannot be read ({exc}): the archive is corrupt. "
            "Delete it and fetch it again, or replace it with the official file."
        ) from None


def read_member(zf, name, *, max_bytes, archive):
    """The bytes of the member ``name``, read as :func:`iter_member` does."""
    return b"".join(iter_member(zf, name, max_bytes=max_bytes, archive=archive))


def file_sha256(path):
    """The SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
