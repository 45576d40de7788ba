#!/usr/bin/env bash
# Build liaison's images on a machine that reaches no container registry (`make image`):
#   1. debootstrap a minimal Debian bookworm from Debian's mirror;
#   2. make it the base image with `buildah from scratch`;
#   3. build deploy/Containerfile on it: liaison-ci:<tag> and liaison-form:<tag>;
#   4. try them: build.py check and build.py pdf on the demo data in the ci image,
#      and the form image's /healthz.
# Needs root, debootstrap, buildah and podman (apt-get install debootstrap buildah podman);
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
for tool in debootstrap buildah podman; do
    command -v "$tool" >/dev/null || { echo "缺少 $tool：apt-get install -y debootstrap buildah podman" >&2; exit 1; }
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
git clone -q --depth 1 "file://$PWD" "$work/context"
# A build host behind a TLS-inspecting proxy lends its CA bundle to pip, for the build only.
ca=(--volume /etc/ssl/certs/ca-certificates.crt:/run/build-ca.crt:ro --build-arg BUILD_CA=/run/build-ca.crt)
for target in ci form; do
    step "build $target -> localhost/liaison-$target:$TAG"
    buildah bud --quiet --format docker --network host --layers \
        --build-arg BASE="$BASE" "${ca[@]}" \
        --target "$target" -f deploy/Containerfile -t "localhost/liaison-$target:$TAG" "$work/context"
done
podman images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep "liaison-.*:$TAG"

# 4. Try them on the demo data.
step "ci image: build.py check, build.py pdf"
podman run --rm --network none -v "$work/context:/src:ro" "localhost/liaison-ci:$TAG" bash -c '
    set -e
    cp -a /src /tmp/project && cd /tmp/project
    time bash scripts/setup.sh runtime
    source .venv/bin/activate
    python build.py check
    python build.py pdf --out /tmp/pdf | tail -2
    test "$(find /tmp/pdf -name "*.pdf" | wc -l)" -eq "$(find records -name "*.yaml" | wc -l)"
    echo "PDF 与记录数一致：$(find /tmp/pdf -name "*.pdf" | wc -l) 份"
'
step "form image: /healthz"
name=liaison-form-try-$$
podman run -d --rm --name "$name" --network none \
    -e LIAISON_PROXY_SECRET=image-try-secret-0123456789 "localhost/liaison-form:$TAG" >/dev/null
trap 'podman rm -f "$name" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
healthy=
for _ in $(seq 1 60); do
    if podman exec "$name" python -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2).read().decode())" 2>/dev/null; then
        healthy=1
        break
    fi
    podman inspect -f '{{.State.Running}}' "$name" 2>/dev/null | grep -q true || break
    sleep 1
done
if [ -z "$healthy" ]; then
    podman logs "$name" >&2 || true
    echo "表单镜像的 /healthz 没有应答。" >&2
    exit 1
fi
podman exec "$name" id
step "done: localhost/liaison-ci:$TAG, localhost/liaison-form:$TAG"
