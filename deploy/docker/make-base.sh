#!/bin/sh
# Make a Python base image for the Dockerfile from the Debian mirror alone, for machines that
# can reach Debian's packages but no container registry (where `FROM python:3.11-slim`
# cannot be pulled). Needs root, debootstrap and podman (apt-get install debootstrap podman).
#   deploy/docker/make-base.sh [image name]      default: localhost/gateway-base:bookworm
#   podman build --build-arg BASE=localhost/gateway-base:bookworm -t gateway .
# Debian bookworm's python3 is 3.11, as in the official image.
set -eu
image="${1:-localhost/gateway-base:bookworm}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
root="$(mktemp -d /var/tmp/gateway-base.XXXXXX)"
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    bookworm "$root" "$mirror"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | podman import --change 'CMD ["/bin/bash"]' - "$image"
echo "made $image"
