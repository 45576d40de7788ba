#!/usr/bin/env bash
# Set up a Debian machine for liaison: the system packages (needs root), .venv/, and the test tools.
#   bash scripts/setup.sh            everything, for development and the tests
#   bash scripts/setup.sh runtime    only what building needs (CI jobs of .gitlab-ci.yml)
#   bash scripts/setup.sh packages   print the Debian packages building needs (deploy/Containerfile)
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-all}

# Debian packages, one list for every command:
# git for the repository; pango and fontconfig for WeasyPrint; libharfbuzz-subset0
# so WeasyPrint subsets fonts with HarfBuzz (fontTools is ~30x slower per page);
# the PDF's fonts (宋体-style AR PL UMing, 黑体-style WenQuanYi Micro Hei, HanaMin for
# rare characters, Symbola for emoji and symbols in record text).
DEBIAN_PACKAGES=(
    git make
    libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fontconfig
    fonts-arphic-uming fonts-wqy-microhei fonts-hanazono fonts-symbola
)
# ssh-keygen signs the web form's commits (LIAISON_SIGNING_KEY) and verifies them.
DEBIAN_PACKAGES+=(openssh-client)
# Debian has only python3; the command line is `python build.py …` (README, the design),
# and build.py then runs itself in .venv/.
DEBIAN_PACKAGES+=(python-is-python3)
if [ "$mode" = packages ]; then
    echo "${DEBIAN_PACKAGES[*]}"
    exit 0
fi
# LIAISON_VENV names an existing, complete environment on a machine already set up: use it as it is, and
# check no system package again (the pipeline tests run many jobs locally and share the project's own;
# each job's set-up is then one symlink, not a dpkg-query per package).
if [ -n "${LIAISON_VENV:-}" ] && [ -x "$LIAISON_VENV/bin/python" ]; then
    [ -e .venv ] || ln -s "$LIAISON_VENV" .venv
    exit 0
fi
# For the tests only: poppler-utils to look at PDFs; chromium-headless-shell (Debian's chromium build
# without the desktop browser: a quarter of its CPU) for the browser tests (Playwright drives it, it
# downloads no browser); rsync for gitlab-ci-local;
# nginx (and openssl for its test certificate) to test deploy/nginx in front of the form
# (its own prefix, never the system service); apache2 with mod_auth_cas to check deploy/apache
# (`apache2 -t` only, never the system service).
if [ "$mode" != runtime ]; then
    DEBIAN_PACKAGES+=(poppler-utils chromium-headless-shell rsync nginx openssl apache2 libapache2-mod-auth-cas)
    # LibreOffice prints the workbooks in the tests as 思政科's Excel/WPS would; Carlito has
    # Calibri's metrics, so column widths measure as in Excel.
    DEBIAN_PACKAGES+=(libreoffice-calc fonts-crosextra-carlito)
    command -v npm >/dev/null 2>&1 || DEBIAN_PACKAGES+=(nodejs npm)
fi

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# The interpreter of .venv/: Debian's own python3 where it can make one (the CI and form images run it; Debian
# builds it with profile-guided optimisation, and the tests took 12% less CPU on it than on an unoptimised
# build earlier on PATH, such as pyenv's: 229 s against 261 s, 2026-12-07), else the python3 on PATH.
PYTHON=python3
if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import ensurepip, venv' 2>/dev/null; then
    PYTHON=/usr/bin/python3
fi
if ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
    missing+=(python3-venv)
fi
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "缺少系统软件包：${missing[*]}" >&2
        echo "请以 root 身份运行本脚本，或请管理员执行：apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
    echo "安装系统软件包：${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    # The tests run nginx under their own prefix on loopback; the package's own
    # service (port 80 on every address) is not wanted on a development machine.
    for service in nginx apache2; do
        if [[ " ${missing[*]} " == *" $service "* ]] && command -v systemctl >/dev/null 2>&1; then
            systemctl disable --now "$service" >/dev/null 2>&1 || true
        fi
    done
fi

# gitlab-ci-local and axe-core, pinned by tools/package-lock.json, for the pipeline and accessibility tests: in the
# background while the Python packages install (3 s of the set-up; neither needs the other).
npm_pid=
if [ "$mode" != runtime ] && { [ ! -x tools/node_modules/.bin/gitlab-ci-local ] || [ ! -f tools/node_modules/axe-core/axe.min.js ]; }; then
    npm ci --prefix tools --no-audit --no-fund --loglevel=error &
    npm_pid=$!
fi
config=
kept_new=
# A step that fails (or Ctrl-C) stops npm too, and leaves no copy of pip's settings or half-kept uv behind.
trap '[ -z "$npm_pid" ] || kill "$npm_pid" 2>/dev/null; rm -f ${config:+"$config"} ${kept_new:+"$kept_new"}' EXIT

# uv, kept once per user and machine type after the first set-up has installed it (below): a fresh clone then
# makes its .venv/ and installs into it without pip's 2-4 s of bootstrapping (ensurepip, then `pip install uv`).
# Not in runtime mode: a CI job never runs, nor leaves, a program kept in the home folder it may share with others.
# A kept uv that does not answer, answers wrong or fails once is passed over for the rest of the run, and
# replaced by the one pip then installs. Deleting ~/.cache/liaison/ is always safe.
UV_VERSION=0.13.9
UV_KEPT=
kept=  # the kept uv: not asked yet (empty), usable (yes), or not (no) for the rest of this run
case "${XDG_CACHE_HOME:-}" in
    /*) cache_home=$XDG_CACHE_HOME ;;  # the XDG rule: a relative one is ignored
    *) cache_home=${HOME:+$HOME/.cache} ;;
esac
[ "$mode" = runtime ] || [ -z "$cache_home" ] || UV_KEPT="$cache_home/liaison/uv-$UV_VERSION-$(uname -m)"
# Asked once a run (--foreground: Ctrl-C still reaches it); an answer cut short by the time limit is no answer.
uv_kept() {
    local answer
    if [ -z "$kept" ]; then
        kept=no
        if [ -n "$UV_KEPT" ] && [ -f "$UV_KEPT" ] && [ -x "$UV_KEPT" ] \
            && answer=$(timeout --foreground -k 2 10 "$UV_KEPT" --version 2>/dev/null) \
            && [ "$(cut -d' ' -f2 <<<"$answer")" = "$UV_VERSION" ]; then
            kept=yes
        fi
    fi
    [ "$kept" = yes ]
}
keep_uv() {
    [ -n "$UV_KEPT" ] && [ -x .venv/bin/uv ] && [ ! -d "$UV_KEPT" ] && ! uv_kept || return 0
    mkdir -p "${UV_KEPT%/*}" 2>/dev/null && kept_new=$(mktemp "$UV_KEPT.new-XXXXXX" 2>/dev/null) \
        && cp .venv/bin/uv "$kept_new" 2>/dev/null && chmod 755 "$kept_new" && mv -fT "$kept_new" "$UV_KEPT" 2>/dev/null
    rm -f ${kept_new:+"$kept_new"}
    kept_new=
    # Copies an interrupted set-up left (over an hour old: never one a set-up running now is writing).
    find "${UV_KEPT%/*}" -maxdepth 1 -name 'uv-*.new-*' -mmin +60 -delete 2>/dev/null || true
}

# .venv/ as `python -m venv` makes it (pip and setuptools from the wheels ensurepip installs, their bytecode
# compiled), in 0.6 s instead of 2-3 s where uv is kept: venv without pip, then uv installs those same wheels
# from the disk. Otherwise (ensurepip._get_packages is private: Python 3.12 changed it, 3.13 has none), or if
# that fails, venv as it is.
make_venv() {
    local wheels=()
    if uv_kept && mapfile -t wheels < <("$PYTHON" -c '
import ensurepip, os
for package in ensurepip._get_packages().values():
    print(package.wheel_path or os.path.join(os.path.dirname(ensurepip.__file__), "_bundled", package.wheel_name))
' 2>/dev/null) && [ ${#wheels[@]} -gt 0 ] && "$PYTHON" -m venv --clear --without-pip .venv; then
        if UV_LOCK_TIMEOUT=10 timeout --foreground -k 2 60 "$UV_KEPT" pip install -q --offline --no-deps --compile-bytecode \
            --python .venv/bin/python "${wheels[@]}" >/dev/null 2>&1 && .venv/bin/python -c 'import pip' >/dev/null 2>&1; then
            : >.venv/.liaison-venv
            return 0
        fi
        kept=no
    fi
    "$PYTHON" -m venv --clear .venv
    : >.venv/.liaison-venv
}

# A whole .venv/: Python and pip run, and make_venv finished it (its mark, written last; or the install's stamp, in
# one made before the mark was). A set-up stopped while pip's files were being written left one that `import pip`
# accepted but pip could not run, and every set-up after it failed until .venv/ was deleted by hand.
venv_whole() {
    .venv/bin/python -c 'import pip' >/dev/null 2>&1 \
        && { [ -L .venv ] || [ -f .venv/.liaison-venv ] || [ -f .venv/.liaison-installed ]; }
}

# The virtual environment, reinstalled only when pyproject.toml or the mode changes.
# One that cannot run Python or pip (its interpreter removed, a set-up stopped while venv was making it) is made again.
if ! venv_whole; then
    if [ -L .venv ]; then
        echo ".venv 是指向别处的链接，且其中的 Python 不能运行：请删除该链接后重新运行 scripts/setup.sh。" >&2
        exit 1
    fi
    [ ! -e .venv ] || echo "重新创建 .venv/：其中的 Python 或 pip 不能运行。" >&2
    make_venv
fi
extras='.[test]'
[ "$mode" = runtime ] && extras='.'
stamp=.venv/.liaison-installed
want="$(sha256sum pyproject.toml | cut -d' ' -f1) $extras"
# uv installs the same pinned packages from the same sources as pip (scripts/pip_sources.py tells it pip's): a new
# .venv/ with them all, bytecode compiled, in 11 s against pip's 33 s here (BENCHMARKS.md). pip installs instead where uv cannot be had, where
# pip is set up in a way uv would not be told of (no index, hashes required, a proxy, ...), or when uv fails.
install_packages() {
    local variables status=0 installed=1 uv="$UV_KEPT"
    if ! uv_kept; then
        uv=.venv/bin/uv
        .venv/bin/python -m pip install -q "uv==$UV_VERSION" >/dev/null 2>&1 && keep_uv || uv=
    fi
    if [ -z "$uv" ]; then
        echo "无法安装 uv $UV_VERSION，改用 pip 安装 Python 软件包，需要多等一会儿。" >&2
    else
        config=$(mktemp)  # pip's index addresses may hold a password: a private file, never the command line
        variables=$(.venv/bin/python scripts/pip_sources.py "$config") || status=$?
        if [ "$status" -eq 0 ] && (
            while IFS= read -r assignment; do [ -z "$assignment" ] || export "${assignment?}"; done <<<"$variables"
            exec "$uv" pip install -q --compile-bytecode --config-file "$config" \
                --python .venv/bin/python -e "$1"
        ); then
            installed=0
        fi
        rm -f "$config"
        config=
        if [ "$installed" -eq 0 ]; then
            return 0
        elif [ "$status" -eq 3 ]; then
            echo "pip 的设置 uv 无法照办（原因见上），改用 pip 安装 Python 软件包，需要多等一会儿。" >&2
        else
            echo "uv 安装 Python 软件包失败（原因见上），改用 pip 安装，需要多等一会儿。" >&2
        fi
    fi
    .venv/bin/python -m pip install -q -e "$1"
}
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    install_packages "$extras"
    echo "$want" > "$stamp"
fi

# The package's own bytecode, written now: where PYTHONDONTWRITEBYTECODE is set (this machine sets it), Python would
# otherwise compile every liaison module again in each command it runs (0.07 s a command; compileall skips
# what is up to date, and a module edited since is compiled in memory as before).
[ ! -d liaison ] || .venv/bin/python -m compileall -q -j 0 liaison >/dev/null

npm_status=0
[ -z "$npm_pid" ] || wait "$npm_pid" || npm_status=$?
npm_pid=
if [ "$npm_status" -gt 128 ]; then
    exit "$npm_status"  # stopped by a signal (Ctrl-C): nothing to explain
elif [ "$npm_status" -ne 0 ]; then
    echo "npm ci 失败（原因见上），流水线与无障碍测试所需的 gitlab-ci-local、axe-core 没有装好。请检查网络后重新运行 scripts/setup.sh。" >&2
    exit 1
fi
