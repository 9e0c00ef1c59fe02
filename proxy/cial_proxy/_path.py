"""The request target split into the path a resolver sees and the query only the upstream sees."""

from __future__ import annotations


def remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4, on an absolute path: ``/a/./b/../c`` -> ``/a/c``.

    Percent-encoded dots (``%2e``) are left alone, as every mainstream server does: decoding them
    here would make the resolver see a different path from the one the upstream receives.
    """
    if "/." not in path:
        return path  # the common case: nothing to resolve
    output: list[str] = []
    segments = path.split("/")[1:]
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == ".":
            if last:
                output.append("")
        elif segment == "..":
            if output:
                output.pop()
            if last:
                output.append("")
        else:
            output.append(segment)
    return "/" + "/".join(output)


def split_target(target: bytes) -> tuple[str, bytes] | None:
    """(normalized path, query) of an origin-form target (RFC 9112 §3.2.1), or None for any other
    form (absolute-form, authority-form, ``*``) or a target that is not ASCII."""
    if not target.startswith(b"/"):
        return None
    raw_path, _, query = target.partition(b"?")
    try:
        path = raw_path.decode("ascii")
    except UnicodeDecodeError:
        return None
    return remove_dot_segments(path), query
