# Shared by scripts/run and scripts/test: find Python >= 3.12 and keep .venv up to date.
# Sourced, not executed. Sets VENV and PY.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${C2R_VENV:-$ROOT/.venv}"

_is_312() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; }

find_python() {
    local candidate
    # An explicit choice first, then what this directory resolves to (pyenv honours the
    # repository's .python-version), then versioned names, then pyenv's installs.
    for candidate in "${C2R_PYTHON:-}" python3 python3.14 python3.13 python3.12 python; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 && _is_312 "$candidate"; then
            command -v "$candidate"; return 0
        fi
    done
    if command -v pyenv >/dev/null 2>&1; then
        for candidate in $(pyenv root 2>/dev/null)/versions/3.1[2-9]*/bin/python3; do
            if [ -x "$candidate" ] && _is_312 "$candidate"; then echo "$candidate"; return 0; fi
        done
    fi
    return 1
}

ensure_venv() {  # $1: the extras to install ("" or "test")
    local extras="$1" stamp want
    cd "$ROOT"
    if [ ! -x "$VENV/bin/python" ] || ! _is_312 "$VENV/bin/python"; then
        local base
        if ! base="$(find_python)"; then
            echo "chat2responses needs Python 3.12 or newer (mitmproxy 12 requires it), and none was found." >&2
            echo "Install one (e.g. 'apt-get install python3.12 python3.12-venv', 'pyenv install 3.12'," >&2
            echo "or 'uv python install 3.12'), or point C2R_PYTHON at it, then run this again." >&2
            exit 2
        fi
        echo "Creating $VENV with $("$base" --version 2>&1) ($base)" >&2
        rm -rf "$VENV"
        "$base" -m venv "$VENV" || { echo "Could not create a virtual environment with $base (is the venv module installed?)" >&2; exit 2; }
    fi
    PY="$VENV/bin/python"
    stamp="$VENV/.chat2responses-installed"
    want="$(cat pyproject.toml | cksum | cut -d' ' -f1)-$extras"
    if [ ! -f "$stamp" ] || ! grep -qx -- "$want" "$stamp" 2>/dev/null; then
        echo "Installing chat2responses${extras:+ [$extras]} into $VENV ..." >&2
        "$PY" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2 || true
        if [ -n "$extras" ]; then
            "$PY" -m pip install --quiet --disable-pip-version-check -e ".[$extras]" >&2
        else
            "$PY" -m pip install --quiet --disable-pip-version-check -e . >&2
        fi
        # A test install also satisfies a plain run; remember both.
        echo "$want" > "$stamp"
        if [ -n "$extras" ]; then echo "${want%-*}-" >> "$stamp"; fi
    fi
}
