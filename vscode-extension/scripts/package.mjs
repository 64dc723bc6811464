// Builds an installable .vsix holding the lambda-ls server binary for this platform.
//
//   npm run package                                    # cargo build --release -p lambda-ls, then package
//   LAMBDA_LS_SERVER_BINARY=../target/debug/lambda-ls npm run package   # bundle a binary already built
//
// The .vsix is written to LAMBDA_LS_VSIX_OUT, else lambda-ls-<target>-<version>.vsix here.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const repo = path.dirname(here);
const pkg = JSON.parse(fs.readFileSync(path.join(here, "package.json"), "utf8"));

/** VS Code's name for this platform (`vsce --target`). */
function vscodeTarget() {
  const arch = { x64: "x64", arm64: "arm64", arm: "armhf" }[process.arch];
  const platform = { linux: "linux", darwin: "darwin", win32: "win32" }[process.platform];
  if (!arch || !platform) throw new Error(`no VS Code target for ${process.platform}-${process.arch}`);
  let musl = false;
  if (platform === "linux") {
    const report = process.report?.getReport?.();
    musl = !report?.header?.glibcVersionRuntime;
  }
  return `${musl ? "alpine" : platform}-${arch}`;
}

function run(cmd, args, opts = {}) {
  console.log(`$ ${cmd} ${args.join(" ")}`);
  execFileSync(cmd, args, { stdio: "inherit", ...opts });
}

const exe = process.platform === "win32" ? "lambda-ls.exe" : "lambda-ls";
let binary = process.env.LAMBDA_LS_SERVER_BINARY;
if (binary) {
  binary = path.resolve(binary);
} else {
  run("cargo", ["build", "--release", "-p", "lambda-ls"], { cwd: repo });
  const targetDir = process.env.CARGO_TARGET_DIR ? path.resolve(repo, process.env.CARGO_TARGET_DIR) : path.join(repo, "target");
  binary = path.join(targetDir, "release", exe);
}
if (!fs.existsSync(binary)) throw new Error(`the server binary ${binary} does not exist`);

const serverDir = path.join(here, "server");
fs.rmSync(serverDir, { recursive: true, force: true });
fs.mkdirSync(serverDir);
fs.copyFileSync(binary, path.join(serverDir, exe));
fs.chmodSync(path.join(serverDir, exe), 0o755);
console.log(`bundling ${binary} (${(fs.statSync(binary).size / 1e6).toFixed(1)} MB)`);

const target = vscodeTarget();
const out = path.resolve(process.env.LAMBDA_LS_VSIX_OUT ?? path.join(here, `lambda-ls-${target}-${pkg.version}.vsix`));
const vsce = path.join(here, "node_modules", ".bin", process.platform === "win32" ? "vsce.cmd" : "vsce");
// The bundle holds every dependency, so node_modules stays out (--no-dependencies).
run(vsce, ["package", "--no-dependencies", "--skip-license", "--allow-missing-repository", "--no-rewrite-relative-links", "--target", target, "--out", out], { cwd: here });
console.log(`wrote ${out}`);
