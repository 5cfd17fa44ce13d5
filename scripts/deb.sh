#!/usr/bin/env bash
# Build the python3-libbpf Debian package from a clean export of the checkout (no
# build output or vendored libbpf of the checkout can leak in), then run
# lintian on it. The .deb and its .changes land in dist/deb/.
#   scripts/deb.sh            build + lintian
#   scripts/deb.sh --install  also install the .deb (apt-get, resolving Depends)
#   scripts/deb.sh --autopkgtest  also run debian/tests against the installed
#                             .deb (autopkgtest's null runner, on this machine)
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf 'deb: %s\n' "$*" >&2; }

need="autopkgtest debhelper dh-python pybuild-plugin-pyproject python3-all-dev python3-setuptools python3-cffi python3-pkgconfig libbpf-dev pkg-config dpkg-dev fakeroot lintian"
missing=""
for p in $need; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    say "installing build dependencies:$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

work=$(mktemp -d /tmp/libbpf-py-deb.XXXXXX)
trap 'rm -rf "$work"' EXIT
version=$(dpkg-parsechangelog -S Version)
src="$work/libbpf-py-$version"
mkdir -p "$src"
# HEAD plus what is staged or modified in tracked files (git stash create
# makes that commit without touching the work tree); untracked files stay out.
snapshot=$(git stash create)
git archive "${snapshot:-HEAD}" | tar -x -C "$src"
say "building in $src"
# the system Python, never a pyenv or venv one first on PATH
(cd "$src" && PATH=/usr/sbin:/usr/bin:/sbin:/bin dpkg-buildpackage -us -uc -b) > "$work/build.log" 2>&1 || {
    tail -40 "$work/build.log" >&2; say "dpkg-buildpackage failed (log above)"; exit 1; }
mkdir -p dist/deb
cp "$work"/*.deb "$work"/*.changes "$work"/*.buildinfo dist/deb/
deb=$(ls dist/deb/python3-libbpf_"${version}"_*.deb)
say "built $deb"
dpkg-deb -f "$deb" Depends >&2
say "lintian:"
lintian --fail-on error,warning "$deb" >&2 && say "lintian: no errors or warnings"
case "${1:-}" in
--install)
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "./$deb" >/dev/null
    say "installed: $(dpkg-query -W python3-libbpf)"
    ;;
--autopkgtest)
    say "autopkgtest (null runner): installs the .deb and its test Depends, runs debian/tests"
    # the tests' own environment is autopkgtest's: pass the whole-suite switch through
    (cd "$src" && PATH=/usr/sbin:/usr/bin:/sbin:/bin autopkgtest "$OLDPWD/$deb" "$src/" \
        --env="LIBBPF_PY_AUTOPKGTEST_ALL=${LIBBPF_PY_AUTOPKGTEST_ALL:-}" \
        -o "$work/autopkgtest" -- null) > "$work/autopkgtest.log" 2>&1 || {
        # the whole log is kept; CI shows only this output, so print pytest's
        # failures (stdout, far above the tail) and then the tail
        cp "$work/autopkgtest.log" dist/deb/autopkgtest.log
        grep -a -E "^(FAILED|ERROR) |^E  " "$work/autopkgtest.log" | head -80 >&2 || true
        tail -60 "$work/autopkgtest.log" >&2
        say "autopkgtest failed (above: pytest's failures, then the log's tail; all of it in dist/deb/autopkgtest.log)"
        exit 1; }
    grep -a -E "^(=+ .*(passed|failed).*=+|suite +[A-Z]+)" "$work/autopkgtest.log" | sort -u >&2
    ;;
esac
