# shellcheck shell=bash
# Installing what is missing (Debian packages, tools/node_modules) and building.

# What a fresh Debian 12 machine needs to build, test and run the suite.
# nodejs/npm are checked by command, not package: NodeSource's nodejs ships
# npm itself and conflicts with Debian's npm package.
CRM_APT_PACKAGES=(
  g++ cmake ninja-build pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler grpc-proto
  libpqxx-dev libabsl-dev libssl-dev libargon2-dev nlohmann-json3-dev libphonenumber-dev
  libevent-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  postgresql-15 postgresql-client-15
  clang-format nodejs npm openssl ca-certificates
  chromium # the browser of the gateway's client tests (tests/gateway, driven by playwright-core)
  python3-yaml # deploy/envoy/check_envoy_config.py, run as a test
)

deps_missing() {
  local p wanted=()
  for p in "${CRM_APT_PACKAGES[@]}"; do
    case $p in
      nodejs) command -v node >/dev/null 2>&1 || wanted+=("$p") ;;
      npm) command -v npm >/dev/null 2>&1 || wanted+=("$p") ;;
      *) wanted+=("$p") ;;
    esac
  done
  # One dpkg-query for all; packages it does not know are simply absent.
  local installed
  installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${wanted[@]}" 2>/dev/null |
    awk '$NF == "installed" { print $1 }') || true
  for p in "${wanted[@]}"; do
    grep -qxF -- "$p" <<<"$installed" || printf '%s\n' "$p"
  done
}

deps_apt() {
  command -v dpkg-query >/dev/null 2>&1 || die "dpkg-query not found: tools/crm expects Debian 12 (install the packages in tools/lib/deps.sh by hand)"
  local missing
  mapfile -t missing < <(deps_missing)
  ((${#missing[@]})) || return 0
  if ! is_root; then
    die "missing packages: ${missing[*]}; install them with: sudo apt-get install -y --no-install-recommends ${missing[*]}"
  fi
  state_dirs
  local log="$CRM_LOGS/apt.log"
  say "installing ${missing[*]} (log: $(show_path "$log"))"
  local apt=(apt-get install -y --no-install-recommends "${missing[@]}")
  # Try without `apt-get update` first: it is slow and usually not needed.
  if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}" >"$log" 2>&1; then
    say "running apt-get update and retrying"
    if ! { DEBIAN_FRONTEND=noninteractive apt-get update >>"$log" 2>&1 &&
      DEBIAN_FRONTEND=noninteractive "${apt[@]}" >>"$log" 2>&1; }; then
      tail -n 15 "$log" >&2
      die "apt-get install failed (full log: $(show_path "$log"))"
    fi
  fi
}

# tools/node_modules (pinned buf) and tests/gateway/node_modules (the
# gateway's client tests: connect, grpc-web, jose, playwright-core), each from
# its package-lock.json, once.
deps_npm() {
  npm_ci_once tools "$CRM_ROOT/tools/node_modules/.bin/buf"
  npm_ci_once tests/gateway "$CRM_ROOT/tests/gateway/node_modules/.package-lock.json"
}

# npm ci in $CRM_ROOT/$1 unless $2, a file that install leaves, is there.
npm_ci_once() {
  local dir=$1 marker=$2
  [[ -e $marker ]] && return 0
  [[ -f $CRM_ROOT/$dir/package-lock.json ]] || return 0
  say "installing $dir/node_modules (npm ci)"
  npm ci --prefix "$CRM_ROOT/$dir" --no-audit --no-fund --prefer-offline --loglevel=error ||
    die "npm ci --prefix $dir failed"
}

deps_all() {
  deps_apt
  deps_npm
}

# Configure (only when the build dir is new or the arguments changed) and build
# the given targets (default: all).
build_all() {
  [[ -f $CRM_ROOT/CMakeLists.txt ]] || die "no CMakeLists.txt in $CRM_ROOT"
  local extra=()
  read -ra extra <<<"${CRM_CMAKE_ARGS:-}"
  local args=(-S "$CRM_ROOT" -B "$CRM_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${extra[@]}")
  local stamp="$CRM_BUILD/.crm-configure-args"
  # Two tools/crm builds (say `up` and `test`) must not run ninja in one
  # build dir at once. fd 8 is closed again before anything long-lived starts.
  mkdir -p "$CRM_BUILD"
  exec 8>"$CRM_BUILD/.crm-build.lock"
  if ! flock -n 8; then
    say "waiting for another tools/crm build in $(show_path "$CRM_BUILD")..."
    flock 8
  fi
  if [[ ! -f $CRM_BUILD/build.ninja || ! -f $stamp || "$(<"$stamp")" != "${args[*]}" ]]; then
    say "configuring $(show_path "$CRM_BUILD") ${extra[*]}"
    cmake --log-level=WARNING "${args[@]}" || die "cmake configure failed"
    printf '%s' "${args[*]}" >"$stamp"
  fi
  local targets=()
  (($#)) && targets=(--target "$@")
  say "building $(show_path "$CRM_BUILD")${*:+ (targets: $*)}"
  cmake --build "$CRM_BUILD" "${targets[@]}" || die "build failed"
  exec 8>&-
}

build_unless_skipped() {
  if [[ ${CRM_NO_BUILD:-0} == 1 ]]; then
    say "CRM_NO_BUILD=1: skipping the build"
  else
    build_all "$@"
  fi
}
