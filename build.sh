#!/usr/bin/env bash
# build.sh — builds rnnlab.
#
#   bash build.sh            wasm (SIMD, fallback, threaded SIMD) into web/dist/, native
#                            C tests into build/native/
#   bash build.sh wasm       only the .wasm files (SIMD, fallback, threaded SIMD)
#   bash build.sh native     only the native C tests (gcc, with sanitizers)
#   bash build.sh fuzz       the libFuzzer target of the model loader (clang)
#   bash build.sh sources    print the engine's C sources, one a line
#   bash build.sh ensure     install what is missing (as root: apt packages;
#                            npm packages), then build only what is out of date
#   bash build.sh setup      like ensure, with the test tools too (chromium,
#                            firefox-esr, python3-torch) — what `npm test`
#                            runs first
set -euo pipefail
cd "$(dirname "$0")"

# The engine: every src/*.c but the wasm entry points (the one list of
# sources; `bash build.sh sources` prints it for tests/native.test.js).
SRC=()
for f in src/*.c; do [ "$f" = src/wasm_api.c ] || SRC+=("$f"); done
WASM_SRC=("${SRC[@]}" src/wasm_api.c)
OUT=web/dist
NATIVE=build/native
CFLAGS_COMMON=(-std=c11 -Wall -Wextra -Wno-unused-parameter -Isrc)

say() { printf 'build.sh: %s\n' "$*" >&2; }

apt_install() { # packages...
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    say "missing Debian packages: ${missing[*]}"
    say "install them with: sudo apt-get install -y ${missing[*]}"
    exit 1
  fi
  say "installing ${missing[*]} (apt-get)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

npm_install() {
  if [ ! -d node_modules ] || [ package.json -nt node_modules/.package-lock.json ]; then
    say "installing npm packages"
    if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error
    else npm install --no-audit --no-fund --loglevel=error; fi
  fi
}

need() { # command, package
  command -v "$1" >/dev/null 2>&1 && return 0
  say "'$1' not found: install it with: sudo apt-get install -y $2"
  exit 1
}

exports_flag() {
  local list
  list=$(grep -v '^#' src/exports.txt | grep -v '^$' | sed 's/^/_/' | paste -sd, -)
  printf -- '-sEXPORTED_FUNCTIONS=%s' "$list"
}

build_wasm() {
  need emcc emscripten
  mkdir -p "$OUT"
  # Standalone .wasm files loaded by our own ESM loader (web/engine.js): the
  # Emscripten 3.1.6 JS glue does not load as ESM in Node 20.
  local common=(-O3 "${CFLAGS_COMMON[@]}" --no-entry -sSTANDALONE_WASM
                -sALLOW_MEMORY_GROWTH=1 -sINITIAL_MEMORY=16MB -sMAXIMUM_MEMORY=2GB
                -sABORTING_MALLOC=0 -sTOTAL_STACK=1MB "$(exports_flag)")
  say "wasm SIMD build"
  NODE_PATH=/usr/share/nodejs emcc "${common[@]}" -msimd128 "${WASM_SRC[@]}" -o "$OUT/rnnlab-simd.wasm"
  say "wasm fallback build (no SIMD)"
  NODE_PATH=/usr/share/nodejs emcc "${common[@]}" "${WASM_SRC[@]}" -o "$OUT/rnnlab.wasm"
  build_threads "${common[@]}"
}

# The threaded SIMD build (src/pool.c, web/threads.js): one shared memory,
# imported, that every thread's instance of the module uses. Emscripten's
# pthreads cannot be used with a standalone module (3.1.6), so the workers
# are our own: each moves onto the stack the owning thread allocated for it
# (stackRestore) and sets up its thread-local storage (__wasm_init_tls).
# emcc checks the module's imports against a JS library: the stub declares
# the three that src/pool.c calls (web/threads.js provides them).
build_threads() { # the common emcc flags
  mkdir -p build
  printf '%s\n' 'mergeInto(LibraryManager.library, { rnnlab_wait: function () {}, rnnlab_notify: function () {}, rnnlab_now: function () { return 0; } });' \
    > build/threads-imports.js
  say "wasm threaded SIMD build"
  NODE_PATH=/usr/share/nodejs emcc "$@" -msimd128 -matomics -mbulk-memory -sIMPORTED_MEMORY \
    -Wl,--shared-memory -Wl,--export=stackRestore -Wl,--export=stackSave -Wl,--export=__wasm_init_tls \
    --js-library build/threads-imports.js "${WASM_SRC[@]}" -o "$OUT/rnnlab-simd-threads.wasm"
}

build_native() {
  need gcc gcc
  mkdir -p "$NATIVE"
  local san=(-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  for t in tests/c/test_*.c; do
    [ -e "$t" ] || continue
    local name
    name=$(basename "$t" .c)
    say "native $name (ASan + UBSan)"
    # test_engine counts allocations through the linker's --wrap
    local link=()
    [ "$name" = test_engine ] && link=(-Wl,--wrap=malloc -Wl,--wrap=calloc -Wl,--wrap=realloc)
    gcc "${CFLAGS_COMMON[@]}" "${san[@]}" "$t" "${SRC[@]}" -lm "${link[@]}" -o "$NATIVE/$name"
  done
}

build_fuzz() {
  local cc
  cc=$(command -v clang || command -v clang-14) || { say "clang not found: install it with: sudo apt-get install -y clang libclang-rt-14-dev"; exit 1; }
  mkdir -p "$NATIVE"
  say "fuzz_load (libFuzzer + ASan + UBSan)"
  "$cc" "${CFLAGS_COMMON[@]}" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    tests/c/fuzz_load.c "${SRC[@]}" -lm -o "$NATIVE/fuzz_load"
}

up_to_date() { # output, inputs...
  local out=$1; shift
  [ -e "$out" ] || return 1
  for f in "$@"; do [ "$f" -nt "$out" ] && return 1; done
  return 0
}

ensure() {
  apt_install emscripten
  npm_install
  local inputs=("${WASM_SRC[@]}" src/*.h src/exports.txt build.sh)
  if ! up_to_date "$OUT/rnnlab-simd.wasm" "${inputs[@]}" || ! up_to_date "$OUT/rnnlab.wasm" "${inputs[@]}" ||
     ! up_to_date "$OUT/rnnlab-simd-threads.wasm" "${inputs[@]}"; then
    build_wasm
  fi
  local stale=0
  for t in tests/c/test_*.c; do
    [ -e "$t" ] || continue
    up_to_date "$NATIVE/$(basename "$t" .c)" "$t" tests/c/*.h "${SRC[@]}" src/*.h build.sh || stale=1
  done
  [ $stale = 0 ] || build_native
}

case "${1:-all}" in
  all) build_wasm; build_native ;;
  wasm) build_wasm ;;
  native) build_native ;;
  fuzz) build_fuzz ;;
  sources) printf '%s\n' "${SRC[@]}" ;;
  ensure) ensure ;;
  setup) apt_install emscripten gcc clang libclang-rt-14-dev chromium firefox-esr python3-torch; ensure ;;
  *) say "unknown command '$1': expected all, wasm, native, fuzz, sources, ensure or setup"; exit 2 ;;
esac
