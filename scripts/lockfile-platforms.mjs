#!/usr/bin/env node
// Run after any `npm install` that rewrites package-lock.json: `node scripts/lockfile-platforms.mjs`.
// Why: the npm registry mirror on our machines does not serve every platform build of some optional
// dependencies (Hardhat's EDR runtime for macOS, Windows and ARM Linux), so `npm install` leaves them out of
// the lock, and `npm ci` then refuses the lock as out of sync ("Missing: @nomicfoundation/edr-darwin-arm64").
// Adds lock entries for optional platform packages the registry mirror does not serve, so that `npm ci`
// accepts the lock; npm skips them on this platform anyway.
import fs from "node:fs";
const lock = JSON.parse(fs.readFileSync("package-lock.json", "utf8"));
const pk = lock.packages;
let added = 0;
for (const [path, meta] of Object.entries(pk)) {
  for (const [dep, version] of Object.entries(meta.optionalDependencies ?? {})) {
    const key = `node_modules/${dep}`;
    if (pk[key] || pk[`${path}/node_modules/${dep}`]) continue;
    const platform = dep.match(/(darwin|linux|win32|freebsd|android)-(arm64|x64|ia32|arm)(?:-(gnu|musl|msvc))?/);
    if (!platform) { console.log("skip", dep); continue; }
    pk[key] = { version, dev: meta.dev, optional: true, os: [platform[1]], cpu: [platform[2]] };
    if (platform[3] === "gnu" || platform[3] === "musl") pk[key].libc = [platform[3] === "gnu" ? "glibc" : "musl"];
    added++;
  }
}
fs.writeFileSync("package-lock.json", JSON.stringify(lock, null, 2) + "\n");
console.log("added", added);
