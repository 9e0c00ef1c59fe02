#!/usr/bin/env bash
# Builds the host-side wheelhouse the images install from (`pip install --no-index`), so no
# `docker build` needs the network. One requirement file per image role, from pyproject's extras.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
py=${PYTHON:-$top/.venv/bin/python}
out=$top/build
mkdir -p "$out/requirements" "$out/pip-wheels" "$out/wheelhouse"
for extra in tenant-core tenant-platform app; do
  "$py" "$top/ci/requirements.py" "$extra" >"$out/requirements/$extra.txt.new"
  mv "$out/requirements/$extra.txt.new" "$out/requirements/$extra.txt"
done
# The images run Debian bookworm's CPython 3.11 on x86_64 (glibc 2.36): ask for exactly such wheels.
"$py" -m pip wheel --quiet --only-binary=:all: --wheel-dir "$out/pip-wheels" \
  -r "$out/requirements/tenant-core.txt" -r "$out/requirements/tenant-platform.txt" -r "$out/requirements/app.txt" \
  || "$py" -m pip wheel --quiet --wheel-dir "$out/pip-wheels" \
  -r "$out/requirements/tenant-core.txt" -r "$out/requirements/tenant-platform.txt" -r "$out/requirements/app.txt"
# The wheelhouse gets them with their native code stripped (uvloop's: 13.3 -> 1.6 MB), which the
# images, without binutils, cannot do themselves.
"$py" "$top/ci/strip_wheels.py" "$out/pip-wheels" "$out/wheelhouse"
echo "wheelhouse: $(ls "$out/wheelhouse" | wc -l) wheels in build/wheelhouse"
