# Shared by the auto/ scripts: paths, settings, dependency install, build.
# Sourced, not run.

set -euo pipefail

RP_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RP_OBJS="$RP_ROOT/objs"

REPLICAS_HOME=${REPLICAS_HOME:-$RP_ROOT/run}
REPLICAS_PORT=${REPLICAS_PORT:-8080}
REPLICAS_DOMAIN=${REPLICAS_DOMAIN:-replicas.localhost}

# Debian packages the project needs, build and test tools included.
RP_PACKAGES=(
    build-essential clang libclang-rt-14-dev
    nginx nginx-dev
    redis-server libhiredis-dev
    libssl-dev libcurl4-openssl-dev libjansson-dev libgit2-dev
    perl libipc-run-perl libprotocol-websocket-perl
    wrk curl
)

rp_log() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }
rp_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

rp_as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@";
    elif command -v sudo >/dev/null; then sudo "$@";
    else rp_die "need root to run: $*"; fi
}

# Installs whatever of RP_PACKAGES is missing (nothing to do: no apt call).
rp_install_deps() {
    local missing=() p
    for p in "${RP_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
            || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    rp_log "installing: ${missing[*]}"
    rp_as_root apt-get update -qq
    rp_as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # Debian starts services on install; Replicas runs its own instances.
    if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
        rp_as_root systemctl disable --now nginx redis-server >/dev/null 2>&1 || true
    fi
}

# Builds the module into $RP_OBJS (or $1), with extra cflags in $2.
# The nginx source tree from nginx-dev is copied once per build folder,
# since configure writes into it.
rp_build_module() {
    local out=${1:-$RP_OBJS} cflags=${2:-} ldflags=${3:-}
    local src="$out/nginx-src"
    mkdir -p "$out"
    if [ ! -f "$src/configure" ]; then
        rm -rf "$src"
        cp -r /usr/share/nginx/src "$src"
    fi
    (
        cd "$src"
        # shellcheck disable=SC1091
        . ./conf_flags
        if [ ! -f objs/Makefile ] || [ "$RP_ROOT/config" -nt objs/Makefile ] \
           || [ "$(cat objs/.rp_flags 2>/dev/null)" != "$cflags|$ldflags" ]; then
            ./configure "${NGX_CONF_FLAGS[@]}" \
                --with-cc-opt="-Wextra -Wno-unused-parameter -Werror $cflags" \
                --with-ld-opt="$ldflags" \
                --add-dynamic-module="$RP_ROOT" >"$out/configure.log" 2>&1 \
                || { tail -20 "$out/configure.log"; rp_die "nginx configure failed"; }
            echo "$cflags|$ldflags" > objs/.rp_flags
        fi
        make -s -f objs/Makefile modules >"$out/make.log" 2>&1 \
            || { cat "$out/make.log"; rp_die "module build failed"; }
    )
    cp "$src/objs/ngx_http_replicas_module.so" "$out/"
}
