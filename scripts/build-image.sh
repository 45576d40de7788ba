#!/usr/bin/env bash
# Build liaison's images on a machine that reaches no container registry (`make image`):
#   1. debootstrap a minimal Debian bookworm from Debian's mirror;
#   2. make it the base image with `buildah from scratch`;
#   3. build deploy/Containerfile on it: liaison-ci:<tag> and liaison-form:<tag>;
#   4. try them: build.py check and build.py pdf on the demo data in the ci image,
#      and the form image's /healthz.
# Needs root, debootstrap and buildah (apt-get install debootstrap buildah);
# takes several minutes. Not part of `make test`.
#
#   bash scripts/build-image.sh          build and try
#   bash scripts/build-image.sh --tag    print the tag: the hash of the image's inputs
#
# MIRROR (default http://deb.debian.org/debian) and SECURITY_MIRROR choose Debian's mirror.
set -euo pipefail
cd "$(dirname "$0")/.."

# The inputs of the ci image; .gitlab-ci.yml's LIAISON_CI_IMAGE_TAG must equal this
# (tests/test_deploy.py checks it; the ci-image job refuses a stale one).
INPUTS=(deploy/Containerfile pyproject.toml scripts/setup.sh)
image_tag() { sha256sum "${INPUTS[@]}" | sha256sum | cut -c1-16; }
if [ "${1:-}" = --tag ]; then
    image_tag
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "需要 root 权限（debootstrap 与 buildah）。请以 root 身份运行：bash scripts/build-image.sh" >&2
    exit 1
fi
for tool in debootstrap buildah; do
    command -v "$tool" >/dev/null || { echo "缺少 $tool：apt-get install -y debootstrap buildah" >&2; exit 1; }
done

MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${SECURITY_MIRROR:-http://deb.debian.org/debian-security}
TAG=$(image_tag)
BASE=localhost/liaison-base:bookworm
work=$(mktemp -d /var/tmp/liaison-image.XXXXXX)
trap 'rm -rf "$work"' EXIT
started=$SECONDS
step() { echo "== $(( SECONDS - started )) s: $*"; }

# 1-2. The base: Debian's own minimal system, imported with buildah from scratch.
if ! buildah inspect --type image "$BASE" >/dev/null 2>&1; then
    step "debootstrap bookworm from $MIRROR"
    debootstrap --variant=minbase bookworm "$work/rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
        || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
    cat >"$work/rootfs/etc/apt/sources.list" <<EOF
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb $SECURITY_MIRROR bookworm-security main
EOF
    rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
    step "buildah from scratch -> $BASE"
    container=$(buildah from scratch)
    mountpoint=$(buildah mount "$container")
    cp -a "$work/rootfs/." "$mountpoint/"
    buildah umount "$container" >/dev/null
    buildah config --env LANG=C.UTF-8 --cmd /bin/bash "$container"
    buildah commit --quiet --rm "$container" "$BASE" >/dev/null
fi

# 3. The images, from the committed files only (a clean clone: the form image's
#    demo root must be a git repository, and a worktree's .git is only a pointer).
if [ -n "$(git status --porcelain)" ]; then
    echo "注意：工作区有未提交的改动，镜像只包含已提交的内容。" >&2
fi
git clone -q --no-hardlinks "$PWD" "$work/context"
# A build host behind a TLS-inspecting proxy lends its CA bundle to pip, for the build only.
ca=(--volume /etc/ssl/certs/ca-certificates.crt:/run/build-ca.crt:ro --build-arg BUILD_CA=/run/build-ca.crt)
for target in ci form; do
    step "build $target -> localhost/liaison-$target:$TAG"
    buildah bud --quiet --format docker --isolation chroot --network host --layers \
        --build-arg BASE="$BASE" "${ca[@]}" \
        --target "$target" -f deploy/Containerfile -t "localhost/liaison-$target:$TAG" "$work/context"
done
buildah images --format '{{.Name}}:{{.Tag}} {{.Size}}' | grep "liaison-.*:$TAG"

# 4. Try them on the demo data, in containers run by buildah (chroot isolation: no
#    OCI runtime, cgroup or network set-up needed, so it also works inside a VM sandbox).
try_in() {  # try_in IMAGE [buildah run options] -- COMMAND...
    local image=$1 container options=()
    shift
    while [ "$1" != -- ]; do options+=("$1"); shift; done
    container=$(buildah from --quiet "$image")
    containers+=("$container")
    buildah run --isolation chroot "${options[@]}" "$container" "$@"
}
containers=()
cleanup() {
    [ -z "${form_pid:-}" ] || kill "$form_pid" 2>/dev/null || true
    for c in "${containers[@]}"; do buildah rm "$c" >/dev/null 2>&1 || true; done
    rm -rf "$work"
}
trap cleanup EXIT
step "ci image: scripts/setup.sh runtime (nothing to install), build.py check, build.py pdf"
try_in "localhost/liaison-ci:$TAG" --volume "$work/context:/src:ro" -- bash -c '
    set -e
    cp -a /src /tmp/project && cd /tmp/project
    start=$(date +%s%N)
    bash scripts/setup.sh runtime
    echo "with the image: setup.sh runtime took $(( ($(date +%s%N) - start) / 1000000 )) ms"
    source .venv/bin/activate
    python build.py check
    python build.py pdf --out /tmp/pdf | tail -2
    pdfs=$(find /tmp/pdf -name "*.pdf" | wc -l)
    test "$pdfs" -eq "$(find records -name "*.yaml" | wc -l)"
    echo "每条演示记录一份 PDF：$pdfs 份"
'
step "set-up time of a CI job: scripts/setup.sh runtime in a fresh container"
# With the ci image that is the first figure above. Without the image, a job starts from plain Debian
# with Python (what python:3.11-slim-bookworm is) and installs everything: once with an
# empty pip cache (a project's first pipeline), once with the cache a job keeps.
mkdir -p "$work/job"
cp -a "$work/context/." "$work/job/"
for pip_cache in empty kept; do
    rm -rf "$work/job/.venv"
    try_in "$BASE" --volume "$work/job:/builds/project" \
        --volume /etc/ssl/certs/ca-certificates.crt:/run/build-ca.crt:ro -- bash -c '
        set -e
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            python3 python3-venv ca-certificates >/dev/null
        cd /builds/project
        start=$(date +%s%N)
        PIP_CACHE_DIR=.cache/pip PIP_CERT=/run/build-ca.crt bash scripts/setup.sh runtime >/dev/null 2>&1
        echo "without the image, pip cache '"$pip_cache"': setup.sh runtime took $(( ($(date +%s%N) - start) / 1000000 )) ms"
    '
done
step "form image: build.py serve as user liaison, /healthz"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
form=$(buildah from --quiet "localhost/liaison-form:$TAG")
containers+=("$form")
# The image's own command, but on the host's loopback (chroot isolation shares its network).
buildah run --isolation chroot --user liaison --env LIAISON_PROXY_SECRET=image-try-secret-0123456789 "$form" -- \
    python /opt/liaison/app/build.py serve --host 127.0.0.1 --port "$port" --data /var/lib/liaison/data \
    >"$work/form.log" 2>&1 &
form_pid=$!
healthz=
for _ in $(seq 1 120); do
    healthz=$(python3 -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$port/healthz', timeout=2).read().decode())" 2>/dev/null) && break
    kill -0 "$form_pid" 2>/dev/null || break
    sleep 0.5
done
if [ -z "$healthz" ]; then
    cat "$work/form.log" >&2
    echo "表单镜像的 /healthz 没有应答。" >&2
    exit 1
fi
echo "/healthz: $healthz"
python3 -c "import urllib.request, urllib.error
try: urllib.request.urlopen('http://127.0.0.1:$port/new', timeout=5)
except urllib.error.HTTPError as e: print('/new without the proxy headers:', e.code); assert e.code == 401"
buildah run --isolation chroot --user liaison "$form" -- id
step "done: localhost/liaison-ci:$TAG, localhost/liaison-form:$TAG"
