"""Strip the native code in the wheelhouse's wheels (``strip --strip-unneeded``), RECORD kept right.

manylinux wheels ship their extension modules with symbol tables and debug sections that nothing
in an image reads: uvloop's loop.so is 13.3 MB, 1.6 MB stripped; PyYAML's, httptools' and
multidict's shrink as much. The images have no binutils, so this happens on the host, in the
wheels themselves, and every image installs the smaller files.

pip's wheels stay as pip made them in one directory (so pip, run again, finds them intact and
downloads nothing); their stripped copies, with the new sizes and sha256 digests in RECORD, go to
the wheelhouse the images install from. A copy keeps its source's mtime, and a wheel whose copy
has it already is skipped: a second run writes nothing. Without ``strip`` on the host, it says
so and copies the wheels as they are (the images are then larger, not broken).

    python ci/strip_wheels.py build/pip-wheels build/wheelhouse
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ELF_MAGIC = b"\x7fELF"
# A signed RECORD would no longer match once a file in the wheel changes; such a wheel is kept.
SIGNATURES = ("RECORD.jws", "RECORD.p7s")


def record_digest(data: bytes) -> str:
    """The hash column of a RECORD row (the wheel spec: urlsafe base64, no padding)."""
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def strip_bytes(strip: str, data: bytes, scratch: Path) -> bytes:
    source, target = scratch / "in", scratch / "out"
    source.write_bytes(data)
    subprocess.run([strip, "--strip-unneeded", "-o", str(target), str(source)], check=True)
    return target.read_bytes()


def rewritten_record(record: bytes, changed: dict[str, bytes]) -> bytes:
    rows = list(csv.reader(io.StringIO(record.decode())))
    for row in rows:
        if row and row[0] in changed:
            row[1:3] = [record_digest(changed[row[0]]), str(len(changed[row[0]]))]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


def write_beside(target: Path, source: Path, entries: list[tuple[zipfile.ZipInfo, bytes]] | None) -> None:
    """``target`` becomes a copy of ``source``, or the wheel of ``entries``, with ``source``'s mtime.
    Written beside it and renamed over it: an interrupted run leaves no half wheel behind."""
    partial = target.with_name(target.name + ".partial")
    if entries is None:
        shutil.copyfile(source, partial)
    else:
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            for info, data in entries:
                archive.writestr(info, data)
    shutil.copystat(source, partial)
    os.replace(partial, target)


def strip_wheel(source: Path, target: Path, strip: str, scratch: Path) -> tuple[int, int]:
    """Write ``source`` to ``target`` with its native code stripped; the bytes of native code
    (before, after), (0, 0) for a wheel without any."""
    with zipfile.ZipFile(source) as archive:
        entries = [(info, archive.read(info)) for info in archive.infolist()]
    names = [info.filename for info, _ in entries]
    if any(name.endswith(".dist-info/" + signature) for name in names for signature in SIGNATURES):
        print(f"  {source.name}: signed, copied unstripped", file=sys.stderr)
        write_beside(target, source, None)
        return 0, 0
    changed: dict[str, bytes] = {}
    before = after = 0
    for info, data in entries:
        if info.is_dir() or not data.startswith(ELF_MAGIC):
            continue
        stripped = strip_bytes(strip, data, scratch)
        before, after = before + len(data), after + len(stripped)
        if stripped != data:
            changed[info.filename] = stripped
    if not changed:
        write_beside(target, source, None)
        return before, after
    records = [name for name in names if name.endswith(".dist-info/RECORD") and name.count("/") == 1]
    if len(records) != 1:
        raise SystemExit(f"{source.name}: expected one .dist-info/RECORD, found {records}")
    record = next(data for info, data in entries if info.filename == records[0])
    changed[records[0]] = rewritten_record(record, changed)
    write_beside(target, source, [(info, changed.get(info.filename, data)) for info, data in entries])
    return before, after


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    source_dir, target_dir = Path(argv[0]), Path(argv[1])
    target_dir.mkdir(parents=True, exist_ok=True)
    strip = shutil.which("strip")
    if strip is None:
        print("strip_wheels: no `strip` on this host (binutils): wheels copied unstripped", file=sys.stderr)
    written = saved = 0
    with tempfile.TemporaryDirectory() as scratch:
        for source in sorted(source_dir.glob("*.whl")):
            target = target_dir / source.name
            # Each target carries its source's mtime: the same means done already, by an earlier run.
            if target.exists() and target.stat().st_mtime == source.stat().st_mtime:
                continue
            if strip is None:
                write_beside(target, source, None)
            else:
                before, after = strip_wheel(source, target, strip, Path(scratch))
                saved += before - after
            written += 1
    smaller = saved / 1024**2
    print(f"strip_wheels: {written} wheel(s) written to {target_dir}, native code {smaller:.1f} MB smaller")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
