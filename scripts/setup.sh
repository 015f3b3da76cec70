#!/usr/bin/env bash
# Installs what bftsim needs on a fresh Debian/Ubuntu machine: libsodium (Ed25519) and SPIN (the
# Specs/*.pml models) via apt; headless
# Chromium, which the report tests use to render HTML reports to PNG; and nftables, which the live
# network-namespace test uses for packet loss and firewall partitions (those tests skip without them).
# Idempotent: does nothing when everything is present. BFTSIM_NO_CHROMIUM=1 skips Chromium and nftables.
set -euo pipefail
need=()
pkg-config --exists libsodium 2>/dev/null || need+=(libsodium-dev pkg-config)
# SPIN model checker (Specs/*.pml, `bftsim spec check`, `make specs`) and a C compiler for its pan.c.
command -v spin >/dev/null || need+=(spin)
command -v gcc >/dev/null || need+=(gcc)
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
# Chromium is optional (report screenshot tests skip without it), so a failed install only warns.
if [ -z "${BFTSIM_NO_CHROMIUM:-}" ] && command -v apt-get >/dev/null \
   && ! command -v chromium-headless-shell >/dev/null && ! command -v chromium >/dev/null; then
  echo "setup: installing chromium-headless-shell (report rendering tests)" >&2
  { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium-headless-shell; } >/dev/null 2>&1 \
    || { DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null 2>&1; } \
    || echo "setup: could not install Chromium; report rendering tests will skip" >&2
fi
if [ -z "${BFTSIM_NO_CHROMIUM:-}" ] && command -v apt-get >/dev/null && ! command -v nft >/dev/null \
   && [ ! -x /usr/sbin/nft ]; then
  echo "setup: installing nftables (live network-fault tests)" >&2
  { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nftables; } >/dev/null 2>&1 \
    || echo "setup: could not install nftables; the nftables live test will skip" >&2
fi
command -v swift >/dev/null || { echo "setup: swift (6.x) is not on PATH" >&2; exit 1; }
