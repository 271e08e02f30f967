# Shared by the auto/ scripts: paths, settings, dependency install, build.
# Sourced, not run.

set -euo pipefail

RP_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RP_OBJS=${REPLICAS_OBJS:-$RP_ROOT/objs}   # build folder, overridable (REPLICAS_OBJS)

REPLICAS_HOME=${REPLICAS_HOME:-$RP_ROOT/run}
REPLICAS_PORT=${REPLICAS_PORT:-8080}
REPLICAS_DOMAIN=${REPLICAS_DOMAIN:-replicas.localhost}

# Debian packages the project needs, build and test tools included.
RP_PACKAGES=(
    build-essential clang libclang-rt-14-dev
    nginx nginx-dev
    redis-server libhiredis-dev
    libssl-dev libcurl4-openssl-dev libjansson-dev libgit2-dev libmicrohttpd-dev libyaml-dev
    perl
    wrk curl openssl
    bubblewrap iproute2 nftables e2fsprogs util-linux
    git python3 fcgiwrap
    chromium
    xvfb openbox x11vnc novnc websockify x11-utils fonts-urw-base35
)

# Needed as commands, whichever package brings them (a machine may have
# Node.js from elsewhere, whose nodejs package conflicts with Debian's npm).
RP_COMMANDS=(node:nodejs npm:npm)

# playwright-core for the browser test; 1.61 is the newest that runs on
# Debian 12's Node.js 18.
RP_PLAYWRIGHT=playwright-core@1.61.1

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
    for p in "${RP_COMMANDS[@]}"; do
        command -v "${p%%:*}" >/dev/null || missing+=("${p#*:}")
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

# The unprivileged user sandboxes run as (control's --user).
RP_SANDBOX_USER=replicas-ws
rp_ensure_sandbox_user() {
    id "$RP_SANDBOX_USER" >/dev/null 2>&1 && return 0
    rp_log "creating the system user $RP_SANDBOX_USER (runs workspaces)"
    rp_as_root useradd --system --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin "$RP_SANDBOX_USER"
}

# Builds the module into $RP_OBJS (or $1), with extra cflags in $2 and
# ldflags in $3, against the nginx source tree $4 (default: nginx-dev's,
# /usr/share/nginx/src).  The tree is copied once per build folder, since
# configure writes into it.
rp_build_module() {
    local out=${1:-$RP_OBJS} cflags=${2:-} ldflags=${3:-}
    local from=${4:-/usr/share/nginx/src} src="$out/nginx-src"
    mkdir -p "$out"
    if [ ! -f "$src/configure" ] || [ "$(cat "$src/.rp_from" 2>/dev/null)" != "$from" ]; then
        rm -rf "$src"
        cp -r "$from" "$src"
        echo "$from" > "$src/.rp_from"
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

# The Debian mirror this machine's apt uses (the first non-security URI
# of /etc/apt/sources.list(.d)), else deb.debian.org.
rp_debian_mirror() {
    local f uri
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
             /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        case $f in
            *.sources) uri=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' "$f") ;;
            *) uri=$(sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]*\).*/\2/p' "$f") ;;
        esac
        uri=$(printf '%s\n' "$uri" | grep -v -- '-security' | grep '/debian/\?$' | head -1 || true)
        [ -n "$uri" ] && { echo "${uri%/}"; return 0; }
    done
    echo http://deb.debian.org/debian
}

# The module against current nginx: Debian 13 (trixie)'s nginx-dev (1.26,
# configured with HTTP/3), fetched by apt into $1/apt (default
# $RP_OBJS/nginx-current) with private sources, lists and cache, unpacked
# there with dpkg -x: nothing is installed on the machine.  The package is
# kept, so later runs need no network (remove the folder to fetch anew).
RP_CURRENT_SUITE=${REPLICAS_CURRENT_SUITE:-trixie}
rp_build_module_current() {
    local out=${1:-$RP_OBJS/nginx-current} apt deb opts
    apt="$out/apt"
    deb=$(ls "$apt"/nginx-dev_*.deb 2>/dev/null | tail -1 || true)
    if [ -z "$deb" ]; then
        rm -rf "$apt" && mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
        echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg]" \
             "$(rp_debian_mirror) $RP_CURRENT_SUITE main" > "$apt/sources.list"
        opts=(-o Dir::Etc::sourcelist="$apt/sources.list" -o Dir::Etc::sourceparts=-
              -o Dir::State::Lists="$apt/lists" -o Dir::Cache="$apt/cache"
              -o APT::Sandbox::User="$(id -un)")
        rp_log "fetching $RP_CURRENT_SUITE's nginx-dev ($(rp_debian_mirror))"
        apt-get "${opts[@]}" -qq update >"$apt/update.log" 2>&1 \
            || { cat "$apt/update.log"; rp_die "apt-get update ($RP_CURRENT_SUITE) failed"; }
        (cd "$apt" && apt-get "${opts[@]}" -qq download nginx-dev) >"$apt/download.log" 2>&1 \
            || { cat "$apt/download.log"; rp_die "apt-get download nginx-dev ($RP_CURRENT_SUITE) failed"; }
        deb=$(ls "$apt"/nginx-dev_*.deb | tail -1)
        rm -rf "$apt/lists" "$apt/cache"    # 20 MB of indexes, used once
    fi
    if [ "$(cat "$out/root/.rp_deb" 2>/dev/null)" != "$deb" ]; then
        rm -rf "$out/root"
        dpkg -x "$deb" "$out/root"
        echo "$deb" > "$out/root/.rp_deb"
    fi
    rp_log "nginx $(sed -n 's/^#define NGINX_VERSION *"\(.*\)"/\1/p' \
            "$out/root/usr/share/nginx/src/src/core/nginx.h") ($(basename "$deb"))"
    rp_build_module "$out" "" "" "$out/root/usr/share/nginx/src"
}

# configure with one library hidden ($1: hiredis, jansson or openssl, a
# header of it made to fail to compile) must stop with config's message
# naming the Debian package ($2).  Into a builddir of its own under
# $RP_OBJS/config-check, the nginx tree being the one of the normal build.
rp_check_module_config() {
    local lib=$1 pkg=$2 dir="$RP_OBJS/config-check/$1" hdr
    case $lib in
        hiredis) hdr=hiredis/hiredis.h ;;
        jansson) hdr=jansson.h ;;
        openssl) hdr=openssl/evp.h ;;
    esac
    rm -rf "$dir" && mkdir -p "$dir/inc/$(dirname "$hdr")"
    echo "#error $lib hidden by rp_check_module_config" > "$dir/inc/$hdr"
    [ -f "$RP_OBJS/nginx-src/configure" ] || rp_die "build the module first"
    if (cd "$RP_OBJS/nginx-src" && ./configure --builddir="$dir/build" \
            --without-http_rewrite_module --without-http_gzip_module \
            --with-cc-opt="-I $dir/inc" --add-dynamic-module="$RP_ROOT") \
            >"$dir/configure.log" 2>&1; then
        rp_die "configure without $lib succeeded"
    fi
    grep -q "needs the .* library.*" "$dir/configure.log" \
        && grep -q "apt-get install $pkg" "$dir/configure.log" \
        || { tail -8 "$dir/configure.log"; rp_die "configure without $lib did not name $pkg"; }
    rp_log "without $lib: configure stops naming $pkg"
}

RP_CFLAGS=(-std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -g -O2)
# the shared pure helpers, but rp_http_json.c: it needs libcurl and jansson,
# so the programs that call it (control, the engine, its unit test) name it
RP_HTTP_JSON="$RP_ROOT/ngx_replicas_module/common/rp_http_json.c"
RP_COMMON=()
for rp_c in "$RP_ROOT"/ngx_replicas_module/common/*.c; do
    [ "$rp_c" = "$RP_HTTP_JSON" ] || RP_COMMON+=("$rp_c")
done
unset rp_c

# replicas-control, from control/ and the shared pure helpers.
rp_build_control() {
    mkdir -p "$RP_OBJS"
    cc "${RP_CFLAGS[@]}" -I "$RP_ROOT/ngx_replicas_module" -I "$RP_ROOT/control" \
        "$RP_ROOT"/control/*.c "${RP_COMMON[@]}" "$RP_HTTP_JSON" \
        -lhiredis -lcrypto -lgit2 -ljansson -lcurl -lyaml -lpthread \
        -o "$RP_OBJS/replicas-control"
}

# replicas-engine, from engine/ (libmicrohttpd, jansson, libgit2; libcrypto for the
# WebSocket handshake's SHA-1).
rp_build_engine() {
    mkdir -p "$RP_OBJS"
    cc "${RP_CFLAGS[@]}" -I "$RP_ROOT/ngx_replicas_module" -I "$RP_ROOT/engine" \
        "$RP_ROOT"/engine/*.c "$RP_ROOT/ngx_replicas_module/common/rp_log.c" \
        "$RP_ROOT/ngx_replicas_module/common/rp_buf.c" "$RP_HTTP_JSON" \
        "$RP_ROOT/ngx_replicas_module/common/rp_url.c" \
        "$RP_ROOT/ngx_replicas_module/common/rp_addr.c" \
        "$RP_ROOT/ngx_replicas_module/common/rp_agents.c" \
        -lmicrohttpd -ljansson -lgit2 -lcurl -lcrypto -lpthread -o "$RP_OBJS/replicas-engine"
}

# replicas-engine under ThreadSanitizer, in objs/tsan (auto/test runs the
# engine's host tests with it: the engine has a thread per connection and
# per working chat; re_engine.h has its lock order).  TSan cannot be
# linked with ASan: a build of its own.
rp_build_engine_tsan() {
    (RP_OBJS="$RP_OBJS/tsan"
     RP_CFLAGS+=(-O1 -g -fno-omit-frame-pointer -fsanitize=thread)
     rp_build_engine)
}

# C unit tests (TAP, run by prove) under ASan and UBSan.
rp_build_unit() {
    local t extra
    mkdir -p "$RP_OBJS/unit"
    for t in "$RP_ROOT"/t/unit/test_*.c; do
        extra=()
        case $(basename "$t") in
            # pure files of control and the engine, with their libraries
            test_yaml.c) extra=(-I "$RP_ROOT/control" "$RP_ROOT/control/rc_yaml.c"
                                -ljansson -lyaml) ;;
            test_repo_url.c) extra=(-I "$RP_ROOT/control" "$RP_ROOT/control/rc_repo_url.c") ;;
            test_pulls.c) extra=(-I "$RP_ROOT/control" "$RP_ROOT/control/rc_pulls_parse.c" -ljansson) ;;
            test_git_state.c) extra=(-I "$RP_ROOT/control" "$RP_ROOT/control/rc_git_state.c" -ljansson) ;;
            test_ports.c) extra=(-I "$RP_ROOT/engine" "$RP_ROOT/engine/re_ports.c") ;;
            test_github.c) extra=(-I "$RP_ROOT/engine" "$RP_ROOT/engine/re_github.c"
                                  "$RP_HTTP_JSON" -lcurl -ljansson) ;;
            test_http_json.c) extra=("$RP_HTTP_JSON" -lcurl -ljansson -lpthread) ;;
            # an agent adapter's line mapping (its events caught by the
            # test, t/unit/agent_harness.h): the adapters, what they share
            # (re_agent.c) and the pure files they use
            test_agent_*.c) extra=(-I "$RP_ROOT/engine" "$RP_ROOT"/engine/re_agent*.c
                                   "$RP_ROOT/engine/re_files.c" "$RP_ROOT/engine/re_hooks.c"
                                   -ljansson) ;;
        esac
        cc "${RP_CFLAGS[@]}" -O0 -fsanitize=address,undefined -fno-sanitize-recover=all \
            -I "$RP_ROOT/ngx_replicas_module" -I "$RP_ROOT/t/unit" \
            "$t" "${RP_COMMON[@]}" "${extra[@]}" -lcrypto \
            -o "$RP_OBJS/unit/$(basename "$t" .c)"
    done
}

# libFuzzer targets, one per parser of network input.
rp_build_fuzz() {
    local t extra
    mkdir -p "$RP_OBJS/fuzz"
    for t in "$RP_ROOT"/t/fuzz/fuzz_*.c; do
        extra=()
        case $(basename "$t") in
            # the engine's pure request validators
            fuzz_engine_*) extra=(-I "$RP_ROOT/engine" "$RP_ROOT/engine/re_request.c" -ljansson) ;;
            # the git endpoints' bodies
            fuzz_git_request*) extra=(-I "$RP_ROOT/engine" "$RP_ROOT/engine/re_git_request.c" -ljansson) ;;
            # GitHub repositories from remotes' URLs
            fuzz_github*) extra=(-I "$RP_ROOT/engine" "$RP_ROOT/engine/re_github.c"
                                 "$RP_HTTP_JSON" -lcurl -ljansson) ;;
            # control's readers of repository files
            fuzz_yaml*) extra=(-I "$RP_ROOT/control" "$RP_ROOT/control/rc_yaml.c" -ljansson -lyaml) ;;
            # which repositories control may clone (local roots, hosts)
            fuzz_repo_policy*) extra=(-I "$RP_ROOT/control" "$RP_ROOT/control/rc_repo_url.c") ;;
            # the pull request poller's URL, GitHub's answer, rate limits
            fuzz_pulls*) extra=(-I "$RP_ROOT/control" "$RP_ROOT/control/rc_pulls_parse.c" -ljansson) ;;
            # the git state kept from an engine's answer
            fuzz_git_state*) extra=(-I "$RP_ROOT/control" "$RP_ROOT/control/rc_git_state.c" -ljansson) ;;
        esac
        clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
            -I "$RP_ROOT/ngx_replicas_module" "$t" "${RP_COMMON[@]}" "${extra[@]}" -lcrypto \
            -o "$RP_OBJS/fuzz/$(basename "$t" .c)"
    done
}

# npm packages the tests use, into $RP_OBJS/node (never into the repo).
rp_install_node_deps() {
    local dir="$RP_OBJS/node"
    [ -f "$dir/node_modules/playwright-core/package.json" ] \
        && grep -q "\"version\": \"${RP_PLAYWRIGHT##*@}\"" \
                "$dir/node_modules/playwright-core/package.json" && return 0
    rp_log "installing $RP_PLAYWRIGHT from npm"
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-audit --no-fund --silent "$RP_PLAYWRIGHT" \
        || rp_die "npm install $RP_PLAYWRIGHT failed"
}

# The dashboard (ngx_replicas_module/dashboard): its npm libraries, pinned
# by its package-lock.json, into $RP_OBJS/dashboard (never into the
# repo), then built (esbuild) into $RP_OBJS/dashboard/www, which the
# gateway serves; nothing is fetched at run time.
rp_build_dashboard() {
    local src="$RP_ROOT/ngx_replicas_module/dashboard" dir="$RP_OBJS/dashboard"
    mkdir -p "$dir"
    if ! cmp -s "$src/package-lock.json" "$dir/package-lock.json" \
        || [ ! -d "$dir/node_modules/preact" ]; then
        rp_log "installing the dashboard's libraries from npm"
        cp "$src/package.json" "$src/package-lock.json" "$dir/"
        (cd "$dir" && npm ci --no-audit --no-fund --silent) \
            || rp_die "npm ci for the dashboard failed"
    fi
    node "$src/build.mjs" "$dir/www" "$dir/node_modules" \
        || rp_die "building the dashboard failed"
}

# The coding agents' CLIs, from npm, pinned, into $RP_OBJS/agents: control
# binds that folder read-only into every workspace (/opt/replicas/agents),
# where the engine runs them.  opencode-ai's install script links the
# native binary of this machine's platform package into place: it must
# run here, as nothing may be fetched when the agent runs; so is the
# package OpenCode wants in its config folder (npm, in the background,
# else), into agents/opencode-plugin, which the engine links there.
# Cursor's CLI is on no registry: a user installs it (PATH, or
# agents/bin/cursor-agent).
RP_AGENTS=(@anthropic-ai/claude-code@2.1.332 @openai/codex@0.171.0 opencode-ai@1.18.33)
RP_OPENCODE_PLUGIN=@opencode-ai/plugin@1.18.33
rp_install_agents() {
    local dir="$RP_OBJS/agents" want have
    want="${RP_AGENTS[*]} $RP_OPENCODE_PLUGIN"
    have=$(cat "$dir/.installed" 2>/dev/null || true)
    [ "$have" = "$want" ] && [ -x "$dir/node_modules/.bin/claude" ] \
        && [ -x "$dir/node_modules/.bin/codex" ] \
        && [ -x "$dir/node_modules/.bin/opencode" ] \
        && [ -d "$dir/opencode-plugin/node_modules/@opencode-ai/plugin" ] && return 0
    rp_log "installing the agents' CLIs from npm: $want"
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-audit --no-fund --silent "${RP_AGENTS[@]}" \
        || rp_die "npm install ${RP_AGENTS[*]} failed"
    "$dir/node_modules/.bin/opencode" --version >/dev/null 2>&1 \
        || rp_die "opencode-ai installed without its native binary (its install script did not run?)"
    mkdir -p "$dir/opencode-plugin"
    npm install --prefix "$dir/opencode-plugin" --no-audit --no-fund --silent "$RP_OPENCODE_PLUGIN" \
        || rp_die "npm install $RP_OPENCODE_PLUGIN failed"
    echo "$want" > "$dir/.installed"
}

rp_build_all() {
    rp_ensure_sandbox_user
    rp_log "building the gateway module"
    rp_build_module
    rp_log "building replicas-control"
    rp_build_control
    rp_log "building replicas-engine"
    rp_build_engine
    rp_log "building the dashboard"
    rp_build_dashboard
    rp_install_agents
}

REPLICAS_BIND=${REPLICAS_BIND:-127.0.0.1}
REPLICAS_REDIS_PORT=${REPLICAS_REDIS_PORT:-6390}
REPLICAS_NET_NAME=${REPLICAS_NET_NAME:-rp0}
REPLICAS_NET_RANGE=${REPLICAS_NET_RANGE:-10.213.0.0/16}
REPLICAS_EGRESS=${REPLICAS_EGRESS:-on}
REPLICAS_DNS=${REPLICAS_DNS:-host}
# The demo workspace's address: a loopback alias, as a sandbox would have.
REPLICAS_DEMO_ADDR=${REPLICAS_DEMO_ADDR:-127.0.0.77}

# What follows from the settings above (again after rp_settings_load).
rp_settings_derive() {
    RP_OBJS=${REPLICAS_OBJS:-$RP_ROOT/objs}
    RP_REDIS_ADDR="127.0.0.1:$REPLICAS_REDIS_PORT"
    # control's sandbox network: bridge <name>br, addresses from the range
    RP_NET_ARGS=(--net-name "$REPLICAS_NET_NAME" --net-range "$REPLICAS_NET_RANGE"
                 --egress "$REPLICAS_EGRESS" --dns "$REPLICAS_DNS")
    RP_DEMO_ADDR=$REPLICAS_DEMO_ADDR
}
rp_settings_derive

# The settings auto/up ran with, kept in $REPLICAS_HOME/settings (one
# NAME=value a line, read back without a shell's eval): auto/down, and the
# clean-up at the start of the next auto/up, stop what runs, whatever the
# caller's environment says.
RP_SETTINGS=(REPLICAS_PORT REPLICAS_DOMAIN REPLICAS_BIND REPLICAS_REDIS_PORT
             REPLICAS_NET_NAME REPLICAS_NET_RANGE REPLICAS_EGRESS REPLICAS_DNS
             REPLICAS_DEMO_ADDR REPLICAS_OBJS)
rp_settings_save() {   # rp_settings_save HOME
    local v
    REPLICAS_OBJS=$RP_OBJS
    for v in "${RP_SETTINGS[@]}"; do
        printf '%s=%s\n' "$v" "${!v-}"
    done > "$1/settings"
}
rp_settings_load() {   # rp_settings_load HOME: 1 when there is none
    local k v
    [ -f "$1/settings" ] || return 1
    while IFS='=' read -r k v; do
        case " ${RP_SETTINGS[*]} " in
            *" $k "*) printf -v "$k" '%s' "$v" ;;
        esac
    done < "$1/settings"
    rp_settings_derive
}

# A process that runs: exists and is not a zombie (a container's init may
# be slow to reap daemons it inherited).
rp_running() {
    kill -0 "$1" 2>/dev/null && ! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null
}
rp_pid_alive() { [ -f "$1" ] && rp_running "$(cat "$1")"; }

# Waits up to $2 seconds for command $1 to succeed.
rp_wait_for() {
    local i
    for ((i = 0; i < ${2:-10} * 10; i++)); do
        eval "$1" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}
