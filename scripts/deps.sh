#!/usr/bin/env bash
# Installs groot's build dependencies from Debian's packages when any is
# missing (needs root or sudo). Sourced by demo.sh and test.sh.
set -euo pipefail
need=0
for pc in libcjson libpcre2-8 libutf8proc libzmq libmicrohttpd; do
  pkg-config --exists "$pc" 2>/dev/null || need=1
done
for f in /usr/include/stb/stb_image.h /usr/include/msgpack.h; do [ -f "$f" ] || need=1; done
{ ls /usr/include/*/openblas*/cblas.h || ls /usr/include/cblas.h; } >/dev/null 2>&1 || need=1
command -v cmake >/dev/null && command -v ninja >/dev/null || need=1
if [ "$need" = 1 ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update
  $sudo apt-get install -y --no-install-recommends \
    build-essential cmake ninja-build pkg-config \
    libcjson-dev libopenblas-dev libpcre2-dev libutf8proc-dev libstb-dev \
    libzmq3-dev libmsgpack-dev libmicrohttpd-dev
fi
