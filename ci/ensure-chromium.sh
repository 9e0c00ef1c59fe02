#!/usr/bin/env bash
# The admin specs drive Debian's Chromium through Playwright (no browser download is possible here).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
  echo "error: chromium is not installed; install Debian's chromium package (apt-get install chromium)" >&2
  exit 1
fi
