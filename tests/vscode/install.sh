#!/usr/bin/env bash
# Installs what the VS Code end-to-end test needs, once per machine: Debian packages (a C++
# toolchain and headers for code-server's native modules, ripgrep, chromium), code-server into the
# user cache keyed by its version, and the test's own npm packages (playwright-core, no browser
# download). Prints the code-server directory on its last line.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
version=${CODE_SERVER_VERSION:-4.99.4}
cache=${LAMBDA_LS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lambda-ls}
dir=$cache/code-server-$version

need=()
for pkg in build-essential pkg-config libx11-dev libxkbfile-dev libsecret-1-dev libkrb5-dev ripgrep chromium; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "== apt-get install ${need[*]}" >&2
  sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${need[@]}" >&2
fi

if [ ! -x "$dir/node_modules/.bin/code-server" ] || [ ! -f "$dir/.complete" ]; then
  echo "== installing code-server $version into $dir" >&2
  rm -rf "$dir"
  mkdir -p "$dir"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  # @vscode/ripgrep downloads rg unless its cache already holds the tarball: hand it Debian's rg.
  mkdir -p "$tmp/vscode-ripgrep-cache-1.15.11"
  tar -C "$(dirname "$(command -v rg)")" -czf "$tmp/vscode-ripgrep-cache-1.15.11/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" rg
  TMPDIR=$tmp npm_config_yes=true npm_config_nodedir=/usr npm_config_update_notifier=false \
    npm install --prefix "$dir" --no-audit --no-fund --unsafe-perm "code-server@$version" >&2
  touch "$dir/.complete"
fi

if [ ! -d "$here/node_modules/playwright-core" ] || [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
  echo "== npm ci in tests/vscode" >&2
  (cd "$here" && npm ci --no-audit --no-fund >&2)
fi
echo "$dir"
