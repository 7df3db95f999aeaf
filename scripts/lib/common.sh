# shellcheck shell=bash disable=SC2034  # the variables here are used by the scripts sourcing it
# Shared by scripts/test and scripts/demo (sourced, not run): Debian packages, the OpenMP Kokkos
# built from Debian's trilinos source package, logging and timing.
#
# Environment:
#   LOOM_CACHE_DIR   where built dependencies are kept (default ${XDG_CACHE_HOME:-~/.cache}/loom)
#   LOOM_JOBS        parallel build/test jobs (default: nproc)
#   LOOM_NO_INSTALL  1: never run apt-get; fail with the list of missing packages instead

if [[ -n "${LOOM_COMMON_SH_LOADED:-}" ]]; then
  return 0
fi
LOOM_COMMON_SH_LOADED=1

LOOM_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
if [[ -z "${LOOM_CACHE_DIR:-}" ]]; then
  if [[ -n "${XDG_CACHE_HOME:-}" ]]; then
    LOOM_CACHE_DIR="${XDG_CACHE_HOME}/loom"
  elif [[ -n "${HOME:-}" ]]; then
    LOOM_CACHE_DIR="${HOME}/.cache/loom"
  else
    LOOM_CACHE_DIR="${TMPDIR:-/tmp}/loom-cache-$(id -u)"
  fi
fi
LOOM_JOBS="${LOOM_JOBS:-$(nproc)}"

# What loom's build, tests and examples need (Debian 12 package names).
LOOM_DEBIAN_PACKAGES=(
  cmake g++ make
  libtrilinos-kokkos-dev libtrilinos-kokkos-kernels-dev
  libboost-dev libopenmpi-dev openmpi-bin
  googletest libgtest-dev libbenchmark-dev
  zlib1g-dev libopenblas-dev
  dataset-fashion-mnist clang-format
)
# Only the benchmark scripts need these (reference timings and plots).
LOOM_BENCHMARK_PACKAGES=(python3-torch python3-matplotlib)

# The OpenMP backend: Kokkos from Debian's trilinos source package, built once and cached.
LOOM_KOKKOS_VERSION=3.4.1
LOOM_TRILINOS_SOURCE=trilinos
LOOM_TRILINOS_ORIG=trilinos_13.2.0.orig.tar.gz
LOOM_KOKKOS_OPENMP_PREFIX="${LOOM_CACHE_DIR}/kokkos-${LOOM_KOKKOS_VERSION}-openmp"
# The stamp file is written last; it holds the recipe below, so a changed recipe rebuilds.
LOOM_KOKKOS_STAMP=".loom-complete"
LOOM_KOKKOS_CMAKE_ARGS=(
  -DKokkos_ENABLE_OPENMP=ON
  -DKokkos_ENABLE_SERIAL=ON
  -DCMAKE_BUILD_TYPE=Release
  -DCMAKE_CXX_STANDARD=17
  -DCMAKE_INSTALL_LIBDIR=lib
)

# --- logging and timing -----------------------------------------------------------------------

if [[ -t 2 ]]; then
  _loom_bold=$'\e[1m' _loom_red=$'\e[31m' _loom_reset=$'\e[0m'
else
  _loom_bold='' _loom_red='' _loom_reset=''
fi

loom_log() { printf '%s==> %s%s\n' "${_loom_bold}" "$*" "${_loom_reset}" >&2; }
loom_warn() { printf '%swarning:%s %s\n' "${_loom_red}" "${_loom_reset}" "$*" >&2; }
loom_die() {
  printf '%serror:%s %s\n' "${_loom_red}" "${_loom_reset}" "$*" >&2
  exit 1
}

# loom_duration <seconds> -> "1m05s"
loom_duration() {
  local s=$1
  if ((s >= 60)); then
    printf '%dm%02ds' $((s / 60)) $((s % 60))
  else
    printf '%ds' "${s}"
  fi
}

# --- Debian packages ----------------------------------------------------------------------------

# Runs a command as root: directly when root, through sudo otherwise.
loom_as_root() {
  if [[ ${EUID} -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    loom_die "'$*' needs root and sudo is not installed; run it as root"
  fi
}

_loom_apt_updated=0
# OpenBLAS 0.3.21 (Debian 12) does not know recent Intel models and falls back to its slowest
# generic kernel; on a CPU with AVX2, ask for the Haswell kernel unless the caller chose one.
loom_openblas_environment() {
  if [[ -z "${OPENBLAS_CORETYPE:-}" ]] && grep -qw avx2 /proc/cpuinfo 2>/dev/null; then
    export OPENBLAS_CORETYPE=Haswell
  fi
}

# mpiexec as root (containers, CI) needs Open MPI's explicit consent.
loom_mpi_environment() {
  if [[ "$(id -u)" == 0 ]]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  fi
}

loom_apt_update() {
  if ((_loom_apt_updated == 0)); then
    loom_log "apt-get update"
    loom_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q || loom_die "apt-get update failed"
    _loom_apt_updated=1
  fi
}

loom_is_installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

# loom_ensure_packages <package>...: installs those not yet installed.
loom_ensure_packages() {
  command -v dpkg-query >/dev/null 2>&1 || loom_die "this script expects Debian 12 (dpkg-query not found)"
  local missing=() package
  for package in "$@"; do
    loom_is_installed "${package}" || missing+=("${package}")
  done
  if ((${#missing[@]} == 0)); then
    return 0
  fi
  if [[ "${LOOM_NO_INSTALL:-0}" == 1 ]]; then
    loom_die "missing Debian packages (LOOM_NO_INSTALL=1): ${missing[*]}"
  fi
  loom_apt_update
  loom_log "apt-get install ${missing[*]}"
  loom_as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}" ||
    loom_die "apt-get install ${missing[*]} failed"
}

# --- deb-src entry for the trilinos source package ----------------------------------------------

# apt's configuration directory (a variable so that the parsing below can be tried on copies).
_loom_apt_etc="${LOOM_APT_ETC:-/etc/apt}"

_loom_codename() {
  local codename=""
  if [[ -r /etc/os-release ]]; then
    # shellcheck source=/dev/null
    codename="$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")"
  fi
  printf '%s' "${codename:-bookworm}"
}

_loom_has_word() { [[ " $1 " == *" $2 "* ]]; }

# Prints each deb822 stanza of the given .sources files as one line:
# types|uris|suites|components|signed-by|enabled
_loom_deb822_stanzas() {
  awk '
    function flush() {
      if (types != "") print types "|" uris "|" suites "|" comps "|" signed "|" enabled
      types = uris = suites = comps = signed = enabled = ""
    }
    /^[ \t]*#/ { next }
    /^[ \t]*$/ { flush(); next }
    /^[ \t]/ { next }
    { key = tolower($1); $1 = ""; sub(/^[ \t]+/, ""); sub(/[ \t]+$/, "")
      if (key == "types:") types = $0; else if (key == "uris:") uris = $0
      else if (key == "suites:") suites = $0; else if (key == "components:") comps = $0
      else if (key == "signed-by:") signed = $0; else if (key == "enabled:") enabled = $0 }
    END { flush() }' "$@"
}

# Reads both sources styles (/etc/apt/sources.list, sources.list.d/*.list and *.sources) for
# entries of <codename> main. Sets _loom_have_src (1 when a deb-src entry exists) and, from the
# first deb entry, _loom_deb_style (deb822 or list), _loom_deb_uri, _loom_deb_signed_by
# (deb822) and _loom_deb_options (the [...] of the one-line style).
_loom_scan_sources() {
  local codename=$1 file types uris suites comps signed enabled line
  local re='^[[:space:]]*(deb|deb-src)[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+)[[:space:]]+([^[:space:]]+)[[:space:]]+(.*)$'
  _loom_have_src=0 _loom_deb_style="" _loom_deb_uri="" _loom_deb_signed_by="" _loom_deb_options=""
  for file in "${_loom_apt_etc}"/sources.list.d/*.sources; do
    [[ -r "${file}" ]] || continue
    while IFS='|' read -r types uris suites comps signed enabled; do
      [[ "${enabled,,}" != no ]] || continue
      if ! _loom_has_word "${suites}" "${codename}" || ! _loom_has_word "${comps}" main; then
        continue
      fi
      if _loom_has_word "${types}" deb-src; then
        _loom_have_src=1
      fi
      if _loom_has_word "${types}" deb && [[ -z "${_loom_deb_uri}" ]]; then
        _loom_deb_style=deb822 _loom_deb_uri="${uris%% *}" _loom_deb_signed_by="${signed}"
      fi
    done < <(_loom_deb822_stanzas "${file}")
  done
  for file in "${_loom_apt_etc}/sources.list" "${_loom_apt_etc}"/sources.list.d/*.list; do
    [[ -r "${file}" ]] || continue
    while IFS= read -r line || [[ -n "${line}" ]]; do
      [[ "${line%%#*}" =~ ${re} ]] || continue
      if [[ "${BASH_REMATCH[4]}" != "${codename}" ]] || ! _loom_has_word "${BASH_REMATCH[5]}" main; then
        continue
      fi
      if [[ "${BASH_REMATCH[1]}" == deb-src ]]; then
        _loom_have_src=1
      elif [[ -z "${_loom_deb_uri}" ]]; then
        _loom_deb_style=list _loom_deb_uri="${BASH_REMATCH[3]}" _loom_deb_options="${BASH_REMATCH[2]}"
      fi
    done <"${file}"
  done
}

# Adds a deb-src entry for <codename> main (same URI, key and style as the deb entry) unless one
# exists, and makes sure apt knows the trilinos source package.
loom_ensure_deb_src() {
  local codename file
  codename="$(_loom_codename)"
  _loom_scan_sources "${codename}"
  if ((_loom_have_src == 0)); then
    local uri="${_loom_deb_uri:-http://deb.debian.org/debian}" style="${_loom_deb_style}"
    if [[ -z "${style}" ]]; then
      style=list
      if compgen -G "${_loom_apt_etc}/sources.list.d/*.sources" >/dev/null; then
        style=deb822
      fi
      if [[ -r /usr/share/keyrings/debian-archive-keyring.gpg ]]; then
        _loom_deb_signed_by=/usr/share/keyrings/debian-archive-keyring.gpg
      fi
    fi
    if [[ "${style}" == deb822 ]]; then
      file="${_loom_apt_etc}/sources.list.d/loom-debian-src.sources"
      loom_log "adding deb-src ${uri} ${codename} main to ${file}"
      {
        printf 'Types: deb-src\nURIs: %s\nSuites: %s\nComponents: main\n' "${uri}" "${codename}"
        [[ -z "${_loom_deb_signed_by}" ]] || printf 'Signed-By: %s\n' "${_loom_deb_signed_by}"
      } | loom_as_root tee "${file}" >/dev/null || loom_die "cannot write ${file}"
    else
      file="${_loom_apt_etc}/sources.list.d/loom-debian-src.list"
      loom_log "adding deb-src ${uri} ${codename} main to ${file}"
      printf 'deb-src %s%s %s main\n' "${_loom_deb_options}" "${uri}" "${codename}" |
        loom_as_root tee "${file}" >/dev/null || loom_die "cannot write ${file}"
    fi
    _loom_apt_updated=0
    loom_apt_update
  elif ! apt-cache showsrc "${LOOM_TRILINOS_SOURCE}" >/dev/null 2>&1; then
    _loom_apt_updated=0
    loom_apt_update
  fi
  apt-cache showsrc "${LOOM_TRILINOS_SOURCE}" >/dev/null 2>&1 ||
    loom_die "apt knows no '${LOOM_TRILINOS_SOURCE}' source package; is there a deb-src entry for ${codename} main?"
}

# --- the OpenMP Kokkos --------------------------------------------------------------------------

_loom_kokkos_recipe() {
  printf 'kokkos %s from %s; %s; %s\n' "${LOOM_KOKKOS_VERSION}" "${LOOM_TRILINOS_ORIG}" \
    "${LOOM_KOKKOS_CMAKE_ARGS[*]}" "$("${CXX:-c++}" --version 2>/dev/null | head -n 1)"
}

# True when the cached OpenMP Kokkos is complete and built by the current recipe.
loom_kokkos_openmp_ready() {
  local stamp="${LOOM_KOKKOS_OPENMP_PREFIX}/${LOOM_KOKKOS_STAMP}"
  [[ -f "${stamp}" && -f "${LOOM_KOKKOS_OPENMP_PREFIX}/lib/cmake/Kokkos/KokkosConfig.cmake" ]] &&
    [[ "$(cat "${stamp}")" == "$(_loom_kokkos_recipe)" ]]
}

# Builds Kokkos ${LOOM_KOKKOS_VERSION} with OpenMP+Serial from Debian's trilinos source package
# into ${LOOM_KOKKOS_OPENMP_PREFIX}, unless a complete one is there. A lock serialises
# concurrent runs; anything left by an interrupted attempt is removed and redone. Returns
# non-zero on failure (the reason is printed).
loom_ensure_kokkos_openmp() {
  if loom_kokkos_openmp_ready; then
    loom_log "OpenMP Kokkos ${LOOM_KOKKOS_VERSION}: cached in ${LOOM_KOKKOS_OPENMP_PREFIX}"
    return 0
  fi
  mkdir -p "${LOOM_CACHE_DIR}" || return 1
  local lock_fd status=0
  exec {lock_fd}>"${LOOM_CACHE_DIR}/kokkos-${LOOM_KOKKOS_VERSION}-openmp.lock"
  if ! flock -n "${lock_fd}"; then
    loom_log "waiting for another run building the OpenMP Kokkos"
    flock "${lock_fd}"
  fi
  if ! loom_kokkos_openmp_ready; then
    # A subshell, so that loom_die inside ends the build, not the calling script.
    (_loom_build_kokkos_openmp) || status=$?
  fi
  exec {lock_fd}>&-
  return "${status}"
}

# Runs a step quietly into <log>; on failure shows the log's tail and dies.
_loom_quiet() {
  local what=$1 log=$2
  shift 2
  if ! "$@" >"${log}" 2>&1; then
    tail -n 40 "${log}" >&2
    loom_die "${what} failed (full log: ${log})"
  fi
}

_loom_build_kokkos_openmp() {
  local prefix="${LOOM_KOKKOS_OPENMP_PREFIX}"
  local downloads="${LOOM_CACHE_DIR}/downloads"
  local work="${LOOM_CACHE_DIR}/kokkos-${LOOM_KOKKOS_VERSION}-openmp.work"
  loom_log "OpenMP Kokkos ${LOOM_KOKKOS_VERSION}: building into ${prefix}"
  rm -rf "${prefix}" "${work}" || loom_die "cannot remove ${prefix} or ${work}"
  mkdir -p "${downloads}" "${work}" || loom_die "cannot create ${downloads} or ${work}"

  if [[ ! -f "${downloads}/${LOOM_TRILINOS_ORIG}.ok" ]]; then
    loom_ensure_deb_src
    loom_log "downloading the ${LOOM_TRILINOS_SOURCE} source package (~166 MB) into ${downloads}"
    # apt-get checks the checksums and replaces a partial or damaged file from an earlier try.
    # As root, apt would drop to the _apt user, who cannot write here, and warn; don't.
    local sandbox=()
    [[ ${EUID} -ne 0 ]] || sandbox=(-o APT::Sandbox::User=root)
    (cd "${downloads}" && apt-get source --download-only -q "${sandbox[@]}" "${LOOM_TRILINOS_SOURCE}") ||
      loom_die "apt-get source --download-only ${LOOM_TRILINOS_SOURCE} failed"
    [[ -f "${downloads}/${LOOM_TRILINOS_ORIG}" ]] ||
      loom_die "apt-get source did not fetch ${LOOM_TRILINOS_ORIG} (see docs/developers.md)"
    touch "${downloads}/${LOOM_TRILINOS_ORIG}.ok"
  fi

  loom_log "extracting packages/kokkos from ${LOOM_TRILINOS_ORIG}"
  tar -xzf "${downloads}/${LOOM_TRILINOS_ORIG}" -C "${work}" --wildcards '*/packages/kokkos/*' ||
    { rm -f "${downloads}/${LOOM_TRILINOS_ORIG}.ok"; loom_die "extracting ${LOOM_TRILINOS_ORIG} failed"; }
  local source version
  source="$(find "${work}" -mindepth 3 -maxdepth 3 -type d -path '*/packages/kokkos' | head -n 1)"
  [[ -n "${source}" && -f "${source}/CMakeLists.txt" ]] ||
    loom_die "no packages/kokkos in ${LOOM_TRILINOS_ORIG}"
  # CMakeLists.txt says set(Kokkos_VERSION_PATCH 01): print 3.4.1.
  version="$(sed -n -E 's/^ *set\(Kokkos_VERSION_(MAJOR|MINOR|PATCH) ([0-9]+)\).*/\2/p' \
    "${source}/CMakeLists.txt" | awk '{ v = v (NR > 1 ? "." : "") ($1 + 0) } END { print v }')"
  [[ "${version}" == "${LOOM_KOKKOS_VERSION}" ]] ||
    loom_die "${LOOM_TRILINOS_ORIG} holds Kokkos ${version}, expected ${LOOM_KOKKOS_VERSION}"

  loom_log "configuring Kokkos ${version} (OpenMP, Serial)"
  _loom_quiet "configuring Kokkos" "${work}/configure.log" \
    cmake -S "${source}" -B "${work}/build" -DCMAKE_INSTALL_PREFIX="${prefix}" \
    "${LOOM_KOKKOS_CMAKE_ARGS[@]}"
  loom_log "building Kokkos (-j ${LOOM_JOBS})"
  _loom_quiet "building Kokkos" "${work}/build.log" cmake --build "${work}/build" -j "${LOOM_JOBS}"
  _loom_quiet "installing Kokkos" "${work}/install.log" cmake --install "${work}/build"
  _loom_kokkos_recipe >"${prefix}/${LOOM_KOKKOS_STAMP}" || loom_die "cannot write the stamp in ${prefix}"

  rm -rf "${work}"
  if [[ "${LOOM_KEEP_DOWNLOADS:-0}" != 1 ]]; then
    rm -f "${downloads}/${LOOM_TRILINOS_SOURCE}"_*
    rmdir "${downloads}" 2>/dev/null || true
  fi
  loom_log "OpenMP Kokkos ${LOOM_KOKKOS_VERSION}: installed in ${prefix}"
}
