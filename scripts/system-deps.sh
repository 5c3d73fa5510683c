#!/usr/bin/env bash
# Debian packages the tests use: headless Chromium for the UI tests, espeak-ng and sox to
# synthesise real speech fixtures. Installed only when missing and when we may use apt.
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v espeak-ng >/dev/null 2>&1 || missing+=(espeak-ng)
command -v sox >/dev/null 2>&1 || missing+=(sox)
# jemalloc, the allocator analysis workers run on (analysis/allocator.py), where it may be
# installed; without it they run on glibc's malloc and its test is skipped.
if ! ldconfig -p 2>/dev/null | grep -q 'libjemalloc\.so\.2' && [ "$(id -u)" -eq 0 ]; then
    missing+=(libjemalloc2)
fi
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "Missing system packages: ${missing[*]} (install them with apt-get as root)." >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
