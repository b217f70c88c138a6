#!/bin/sh
# Installs the Debian packages repoversion needs at run time and in its tests.
# Used by `make venv`, by .ci/run and by docker/Dockerfile, so all three agree.
#   --runtime   only what the server itself needs (the docker image)
#   (default)   also the clients and peers the tests and benchmarks use
set -eu

RUNTIME="python3 python3-venv python3-apt python3-gi gnupg gpgv dpkg-dev apt xz-utils zstd ca-certificates ostree debian-archive-keyring openssl"
TEST="debootstrap postgresql aptly nginx wrk"

want="$RUNTIME"
[ "${1:-}" = "--runtime" ] || want="$want $TEST"

missing=""
for p in $want; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing system packages:$missing" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
