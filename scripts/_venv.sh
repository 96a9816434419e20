# Shared by scripts/run, scripts/test and the other scripts: find Python >= 3.12 and keep .venv
# up to date. Sourced, not executed. Sets ROOT, VENV and PY.
#
# Installs with uv when it can (a few seconds; it is fetched into .venv by pip when not on PATH),
# with pip otherwise, and says what it is doing: the first run on a fresh clone is an install.
# Environment: C2R_PYTHON (the Python to build .venv with), C2R_VENV (where .venv lives),
# C2R_INSTALLER (uv or pip; default: uv, falling back to pip when uv cannot be had or fails).

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# C2R_PYTHON as the caller meant it: ensure_venv works from the checkout.
case "${C2R_PYTHON:-}" in
    */*) [ "${C2R_PYTHON#/}" != "$C2R_PYTHON" ] || C2R_PYTHON="$PWD/$C2R_PYTHON" ;;
esac
VENV="${C2R_VENV:-$ROOT/.venv}"

_is_312() { [ "$("$1" -c 'import sys; print(sys.version_info >= (3, 12))' 2>/dev/null)" = True ]; }

find_python() {
    local candidate
    if [ -n "${C2R_PYTHON:-}" ]; then  # an explicit choice is used, or refused: never passed over
        if ! command -v "$C2R_PYTHON" >/dev/null 2>&1; then
            echo "C2R_PYTHON=$C2R_PYTHON: no such program." >&2; return 1
        elif ! _is_312 "$C2R_PYTHON"; then
            echo "C2R_PYTHON=$C2R_PYTHON is $("$C2R_PYTHON" --version 2>&1); chat2responses needs 3.12 or newer." >&2
            return 1
        fi
        command -v "$C2R_PYTHON"; return 0
    fi
    # What this directory resolves to (pyenv honours the repository's .python-version), then
    # versioned names, then pyenv's installs, then uv's (`uv python install 3.12`).
    for candidate in python3 python3.14 python3.13 python3.12 python; do
        if command -v "$candidate" >/dev/null 2>&1 && _is_312 "$candidate"; then
            command -v "$candidate"; return 0
        fi
    done
    if command -v pyenv >/dev/null 2>&1; then
        for candidate in $(pyenv root 2>/dev/null)/versions/3.1[2-9]*/bin/python3; do
            if [ -x "$candidate" ] && _is_312 "$candidate"; then echo "$candidate"; return 0; fi
        done
    fi
    for candidate in "$(command -v uv 2>/dev/null)" "$HOME/.local/bin/uv" "$HOME/.cargo/bin/uv"; do
        [ -n "$candidate" ] && [ -x "$candidate" ] || continue
        candidate="$("$candidate" python find --system --no-project '>=3.12' 2>/dev/null)" || continue
        if [ -n "$candidate" ] && _is_312 "$candidate"; then echo "$candidate"; return 0; fi
    done
    return 1
}

python_hint() {  # what to install, for this system ($1: its os-release file)
    local id="" version="" like=""
    if [ -r "${1:-/etc/os-release}" ]; then
        id="$(. "${1:-/etc/os-release}" && echo "${ID:-}")"
        version="$(. "${1:-/etc/os-release}" && echo "${VERSION_ID:-}")"
        like="$(. "${1:-/etc/os-release}" && echo "${ID_LIKE:-}")"
    fi
    local name uv_way="uv ('sudo apt-get install pipx && pipx install uv', or uv's installer at"
    uv_way="$uv_way https://docs.astral.sh/uv/), then 'uv python install 3.12'"
    name="$(echo "${id:0:1}" | tr '[:lower:]' '[:upper:]')${id:1} $version"
    case "$id:$version" in
        debian:11|debian:12|ubuntu:20.04|ubuntu:22.04)
            echo "  $name has an older python3 and no python3.12 package. Install 3.12 with"
            echo "  $uv_way,"
            if [ "$id" = ubuntu ]; then
                echo "  or from the deadsnakes PPA: 'sudo add-apt-repository ppa:deadsnakes/ppa &&"
                echo "  sudo apt-get install python3.12 python3.12-venv',"
            fi
            echo "  or with pyenv: 'pyenv install 3.12'." ;;
        debian:*|ubuntu:*)
            echo "  $name's python3 is 3.12 or newer: 'sudo apt-get install python3 python3-venv'." ;;
        *)
            case " $like " in
                *" debian "*|*" ubuntu "*)
                    echo "  Install python3.12 and python3.12-venv from your distribution if it has them, or"
                    echo "  $uv_way, or 'pyenv install 3.12'." ;;
                *)
                    echo "  Install it with your system's packages, or with"
                    echo "  uv (https://docs.astral.sh/uv/): 'uv python install 3.12', or 'pyenv install 3.12'." ;;
            esac ;;
    esac
    echo "  uv's and pyenv's are found by themselves; any other: C2R_PYTHON=/path/to/python3.12."
}

# pip's own chatter (notices about the machine's pip.conf, the version check) goes to a log that
# is shown only when pip fails.
_pip() {
    local log
    log="$(mktemp)"
    if "$PY" -m pip --disable-pip-version-check "$@" >"$log" 2>&1; then
        rm -f "$log"; return 0
    fi
    cat "$log" >&2; rm -f "$log"; return 1
}

_find_uv() {  # prints a uv to use, fetching it into the venv when there is none
    [ "${C2R_INSTALLER:-uv}" = "uv" ] || return 1
    if [ -x "$VENV/bin/uv" ]; then echo "$VENV/bin/uv"; return 0; fi
    if command -v uv >/dev/null 2>&1; then command -v uv; return 0; fi
    echo "  fetching the uv installer into $VENV (pip install uv) ..." >&2
    _pip install --quiet uv && [ -x "$VENV/bin/uv" ] && echo "$VENV/bin/uv"
}

_shown() {  # $1 as the user would type it from the checkout
    case "$1" in "$ROOT"/*) echo "${1#"$ROOT"/}" ;; *) echo "$1" ;; esac
}

_summary() {  # the installer's few summary lines of the log $1 (uv: resolved, installed, …)
    grep -E '^(Resolved|Prepared|Installed|Uninstalled|Audited|Successfully installed) ' "$1" \
        | awk '/^Successfully installed/ {print "    installed " NF - 2 " packages"; next} {print "    " $0}' >&2
}

_install() {  # $1: the pip requirement, e.g. .[test]; the installer's output goes to a log
    local uv start=$SECONDS log="$VENV/install.log"
    : > "$log"
    if uv="$(_find_uv)"; then
        echo "  installing with uv (its full log: $(_shown "$log")) ..." >&2
        if "$uv" pip install --python "$PY" -e "$1" >>"$log" 2>&1; then
            _summary "$log"
            echo "  installed in $((SECONDS - start)) s" >&2; return 0
        fi
        tail -n 15 "$log" | sed 's/^/    /' >&2
        echo "  uv failed (above: the end of $(_shown "$log")); trying pip (C2R_INSTALLER=pip goes straight to it)" >&2
    fi
    echo "  installing with pip, about a minute on a fresh clone (its full log: $(_shown "$log")) ..." >&2
    "$PY" -m pip --disable-pip-version-check install --progress-bar off -e "$1" >>"$log" 2>&1 &
    local pid=$! waited=0
    while kill -0 "$pid" 2>/dev/null; do
        sleep 1; waited=$((waited + 1))
        if [ $((waited % 15)) = 0 ]; then
            echo "    $(grep -c '^Collecting ' "$log") packages collected so far ..." >&2
        fi
    done
    if ! wait "$pid"; then
        tail -n 30 "$log" | sed 's/^/    /' >&2
        echo "  pip failed: the end of its log is above, all of it in $(_shown "$log")" >&2
        return 1
    fi
    _summary "$log"
    echo "  installed in $((SECONDS - start)) s" >&2
}

ensure_venv() {  # $1: the extras to install ("", "client" or "test"; test includes client)
    local extras="$1" stamp sum
    cd "$ROOT"
    if [ ! -x "$VENV/bin/python" ] || ! _is_312 "$VENV/bin/python"; then
        local base
        if ! base="$(find_python)"; then
            [ -z "${C2R_PYTHON:-}" ] || exit 2  # find_python said what is wrong with it
            echo "chat2responses needs Python 3.12 or newer (mitmproxy 12 requires it), and none was found." >&2
            python_hint >&2
            echo "Then run this again." >&2
            exit 2
        fi
        echo "First run: creating $VENV with $("$base" --version 2>&1) ($base)" >&2
        rm -rf "$VENV"
        "$base" -m venv "$VENV" || { echo "Could not create a virtual environment with $base (is the venv module installed?)" >&2; exit 2; }
    fi
    PY="$VENV/bin/python"
    # The stamp holds one line per extra this install satisfies, each tied to pyproject.toml.
    stamp="$VENV/.chat2responses-installed"
    sum="$(cksum < pyproject.toml | cut -d' ' -f1)"
    if [ ! -f "$stamp" ] || ! grep -qx -- "$sum $extras" "$stamp" 2>/dev/null; then
        echo "Installing chat2responses${extras:+[$extras]} and its dependencies into $VENV ..." >&2
        _install ".${extras:+[$extras]}" || { echo "The install failed; see above." >&2; exit 1; }
        case "$extras" in
            test) printf '%s\n' "$sum test" "$sum client" "$sum " > "$stamp" ;;
            client) printf '%s\n' "$sum client" "$sum " > "$stamp" ;;
            *) printf '%s\n' "$sum " > "$stamp" ;;
        esac
    fi
}
