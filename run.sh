#!/usr/bin/env bash
# Single entry point for the project: ./run.sh COMMAND [ARGS...]
# See usage() below, or run ./run.sh without arguments.
set -euo pipefail

# Work from the repository top (this script's directory), wherever we are called from.
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")"

VENV=.venv
PY="$VENV/bin/python"
PYTHON=${PYTHON:-python3}          # interpreter used to create the venv
REQ_STAMP="$VENV/.requirements.sha256"
PROJECT_STAMP="$VENV/.project.sha256"
AXE_STAMP="$VENV/.axe.sha256"
WEB_STAMP="$VENV/.web.sha256"

usage() {
    cat <<EOF
Usage: ./run.sh COMMAND [ARGS...]

Commands:
  setup [--browser]  Install system packages (graphviz, nodejs, npm; chromium with --browser),
                     create .venv and install requirements.txt and the project, and
                     npm ci in web/ (the live simulator's Pyodide and WebAssembly Graphviz).
                     Idempotent; fast when nothing changed.
  test [ARGS...]     setup --browser, then run pytest on every CPU (pytest-xdist -n auto;
                     ARGS are passed to pytest and win: -n 0 runs in one process).
                     Fails if no tests were collected.
                     Fast loop without chromium: ./run.sh test -m "not browser"
  build              setup, then build the website into _build/html (warnings are errors).
  bundle [OUT]       build, then tools/bundle.py: the classroom bundle for a room without
                     internet, one archive (default dist/tcp-book-classroom.tar.gz) with the
                     website, the notebooks, the source and a wheelhouse of every pinned
                     package (pip install --no-index); see its README-classroom.md.
  serve              build, then serve _build/html on http://127.0.0.1:${PORT:-8000}
                     (set PORT to change the port).
  lab [ARGS...]      setup, then start JupyterLab on 127.0.0.1 in book/ (no browser).
  bench [ARGS...]    setup, then run benchmarks/bench.py (ARGS are passed on).
  soak [N] [ARGS...] setup, then run tools/soak.py: N seeded random runs (default 20000)
                     checked against RFC 9293's invariants; a failure writes a scenario
                     file that reproduces it (ARGS: --seed S, --out DIR, see --help).
  lint               setup, then ruff (src, tests, tools, benchmarks) and mypy (src);
                     ./run.sh test runs it first.
EOF
}

say() { printf 'run.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
trap 'rc=$?; [ $rc -eq 0 ] || say "failed (exit code $rc)"' EXIT

# Run a command as root: directly if we are root, else through sudo if available.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root privileges (and no sudo found) to run: $*"
    fi
}

APT_UPDATED=0
apt_install() {
    command -v apt-get >/dev/null 2>&1 \
        || die "apt-get not found; please install these packages yourself: $*"
    if [ "$APT_UPDATED" -eq 0 ]; then
        say "apt-get update"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q \
            || die "apt-get update failed"
        APT_UPDATED=1
    fi
    say "apt-get install -y $*"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" \
        || die "apt-get install $* failed"
}

have_chromium() {
    [ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

venv_ok() { [ -x "$PY" ] && "$PY" -c 'import sys' >/dev/null 2>&1; }

create_venv() {
    command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found; please install Python 3.11"
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || die "$("$PYTHON" -V 2>&1) is too old; Python >= 3.11 is required (the lock is made for 3.11)"
    rm -rf "$VENV"
    say "creating $VENV with $("$PYTHON" -V 2>&1)"
    if ! "$PYTHON" -m venv "$VENV" >/dev/null 2>&1; then
        # Debian/Ubuntu ship venv/ensurepip separately.
        rm -rf "$VENV"
        apt_install python3-venv
        "$PYTHON" -m venv "$VENV" || { rm -rf "$VENV"; die "could not create $VENV"; }
    fi
}

setup() {
    local browser=0
    while [ $# -gt 0 ]; do
        case "$1" in
            --browser) browser=1 ;;
            *) usage >&2; die "unknown setup option: $1" ;;
        esac
        shift
    done

    # System packages.
    if ! command -v dot >/dev/null 2>&1; then
        apt_install graphviz
    fi
    if [ "$browser" -eq 1 ] && ! have_chromium; then
        apt_install chromium
    fi

    # Virtual environment.
    if ! venv_ok; then
        create_venv
    fi

    # The website's live simulator (Pyodide, Graphviz in WebAssembly), pinned by
    # web/package-lock.json; the build runs them under Node and copies them into the site.
    # (After the venv: the stamps live there.)
    command -v node >/dev/null 2>&1 || apt_install nodejs
    command -v npm >/dev/null 2>&1 || apt_install npm
    local web_hash
    web_hash=$(sha256_of web/package-lock.json)
    if [ "$(cat "$WEB_STAMP" 2>/dev/null || true)" != "$web_hash" ] \
            || [ ! -f web/node_modules/pyodide/pyodide.asm.wasm ]; then
        say "npm ci (pyodide, @hpcc-js/wasm-graphviz) in web"
        (cd web && npm ci --no-audit --no-fund --silent) || die "npm ci in web failed"
        printf '%s\n' "$web_hash" > "$WEB_STAMP"
    fi

    # axe-core for the accessibility checks, pinned by tests/browser/axe/package-lock.json
    if [ "$browser" -eq 1 ]; then
        local axe_hash
        axe_hash=$(sha256_of tests/browser/axe/package-lock.json)
        if [ "$(cat "$AXE_STAMP" 2>/dev/null || true)" != "$axe_hash" ] \
                || [ ! -f tests/browser/axe/node_modules/axe-core/axe.min.js ]; then
            say "npm ci (axe-core) in tests/browser/axe"
            (cd tests/browser/axe && npm ci --no-audit --no-fund --silent) || die "npm ci failed"
            printf '%s\n' "$axe_hash" > "$AXE_STAMP"
        fi
    fi

    # Locked requirements: reinstall only when requirements.txt changed.
    local req_hash
    req_hash=$(sha256_of requirements.txt)
    if [ "$(cat "$REQ_STAMP" 2>/dev/null || true)" != "$req_hash" ]; then
        say "installing requirements.txt into $VENV"
        "$PY" -m pip install -q -r requirements.txt || die "pip install -r requirements.txt failed"
        printf '%s\n' "$req_hash" > "$REQ_STAMP"
    fi

    # The project itself, editable: reinstall only when pyproject.toml changed.
    local proj_hash
    proj_hash=$(sha256_of pyproject.toml)
    if [ "$(cat "$PROJECT_STAMP" 2>/dev/null || true)" != "$proj_hash" ]; then
        say "installing the project (editable) into $VENV"
        "$PY" -m pip install -q --no-deps -e . || die "pip install -e . failed"
        printf '%s\n' "$proj_hash" > "$PROJECT_STAMP"
    fi
}

lint() {
    say "ruff check src tests tools benchmarks"
    "$VENV/bin/ruff" check --quiet src tests tools benchmarks || die "ruff found problems (see above)"
    say "mypy (src; strict for tcpsim.core)"
    "$VENV/bin/mypy" || die "mypy found problems (see above)"
}

build() {
    setup
    "$VENV/bin/jupyter-book" build . --builder html -W -n --keep-going
}

cmd=${1:-}
[ $# -gt 0 ] && shift

case "$cmd" in
    setup)
        setup "$@"
        say "setup done"
        ;;
    test)
        setup --browser
        lint
        rc=0
        # One worker per CPU; --dist loadscope (pyproject.toml) keeps a notebook's cells in one worker.
        "$PY" -m pytest -n auto "$@" || rc=$?
        if [ "$rc" -eq 5 ]; then
            say "no tests ran (pytest collected no tests) - this is a failure"
            exit 1
        fi
        exit "$rc"
        ;;
    build)
        [ $# -eq 0 ] || { trap - EXIT; usage >&2; exit 2; }
        build
        ;;
    bundle)
        [ $# -le 1 ] || { trap - EXIT; usage >&2; exit 2; }
        case "${1:-}" in -h|--help) exec "$PY" tools/bundle.py --help ;; esac
        build
        "$PY" tools/bundle.py --site _build/html "$@"
        ;;
    serve)
        [ $# -eq 0 ] || { trap - EXIT; usage >&2; exit 2; }
        build
        port=${PORT:-8000}
        say "serving _build/html at http://127.0.0.1:$port/ (Ctrl-C to stop)"
        exec "$PY" -m http.server "$port" --bind 127.0.0.1 --directory _build/html
        ;;
    lab)
        setup
        # The book's notebooks are the project's own: trust them, so that their stored
        # figures show before anything runs. tools/jupyterlab-overrides.json: no "Jupyter news?"
        # pop-up on a first visit, and every cell of a notebook rendered (windowingMode "none":
        # with JupyterLab's default windowing, jupyterlab-myst's rendering of far cells threw
        # errors in the page now and then, measured in the Lab tests).
        "$VENV/bin/jupyter" trust book/*.ipynb > /dev/null
        mkdir -p "$VENV/share/jupyter/lab/settings"
        cp tools/jupyterlab-overrides.json "$VENV/share/jupyter/lab/settings/overrides.json"
        extra=()
        [ "$(id -u)" -eq 0 ] && extra+=(--allow-root)
        exec "$VENV/bin/jupyter" lab --ip=127.0.0.1 --no-browser \
            --ServerApp.root_dir=book ${extra[@]+"${extra[@]}"} "$@"
        ;;
    lint)
        [ $# -eq 0 ] || { trap - EXIT; usage >&2; exit 2; }
        setup
        lint
        ;;
    soak)
        setup
        exec "$PY" tools/soak.py "$@"
        ;;
    bench)
        setup
        exec "$PY" benchmarks/bench.py "$@"
        ;;
    -h|--help|help)
        usage
        ;;
    *)
        trap - EXIT
        [ -z "$cmd" ] || say "unknown command: $cmd"
        usage >&2
        exit 2
        ;;
esac
