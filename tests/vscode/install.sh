#!/usr/bin/env bash
# Installs what the VS Code tests need, once per machine: Debian packages (a C++ toolchain and
# headers for code-server's native modules, ripgrep, chromium), code-server into the user cache
# keyed by its version, the extension's npm packages (npm ci in vscode-extension) and the e2e's own
# (playwright-core, no browser download). Each npm ci runs again only when its lockfile changed.
# Prints the code-server directory on its last line.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
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

# Debian's Node headers let node-gyp build native modules (keytar, via vsce) without downloading.
if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/node.h ]; then
  export npm_config_nodedir=/usr
fi

# npm ci in $1 unless node_modules was installed from this very lockfile.
npm_ci() {
  local want
  want=$(sha256sum "$1/package-lock.json" | cut -d' ' -f1)
  if [ "$(cat "$1/node_modules/.lockfile.sha256" 2>/dev/null)" != "$want" ]; then
    echo "== npm ci in ${1#"$root"/}" >&2
    (cd "$1" && npm ci --no-audit --no-fund --loglevel=error >&2)
    echo "$want" > "$1/node_modules/.lockfile.sha256"
  fi
}
npm_ci "$root/vscode-extension"
npm_ci "$here"
echo "$dir"
