#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# `gnome-extensions pack` makes the extension's zip with every file that meson installs, the
# same bytes, and a metadata.json the shell accepts (uuid, 43 and 44).
# Usage: check-pack.sh EXTENSION_DIR. Exits 77 without gnome-extensions.
set -euo pipefail

extension_dir=$1
uuid=resctrld@resctrld.github.io
command -v gnome-extensions >/dev/null || { echo "skipping: missing gnome-extensions"; exit 77; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
gnome-extensions pack "$extension_dir" --extra-source=logic.js --extra-source=model.js \
    --out-dir="$out" --force
zip=$out/$uuid.shell-extension.zip
[[ -f $zip ]] || { echo "FAIL: no $uuid.shell-extension.zip"; exit 1; }
mkdir "$out/unpacked"
python3 -m zipfile -e "$zip" "$out/unpacked"
failed=0
installed=$(sed -n "/gnome_shell_extension_files = \[/,/\]/p" "$extension_dir/meson.build" |
    grep -o "'[^']*'" | tr -d "'" | sort)
packed=$(cd "$out/unpacked" && find . -type f -printf '%P\n' | sort)
if [[ $installed != "$packed" ]]; then
    echo "FAIL: the zip holds [$(echo $packed)], meson installs [$(echo $installed)]"
    failed=1
fi
for file in $installed; do
    if [[ $file == metadata.json ]]; then
        continue # gnome-extensions rewrites it
    fi
    cmp -s "$out/unpacked/$file" "$extension_dir/$file" || { echo "FAIL: $file differs"; failed=1; }
done
python3 - "$out/unpacked/metadata.json" "$uuid" <<'PY' || failed=1
import json, sys
meta = json.load(open(sys.argv[1]))
problems = []
if meta.get("uuid") != sys.argv[2]:
    problems.append(f"uuid {meta.get('uuid')!r}")
if not {"43", "44"} <= set(meta.get("shell-version", [])):
    problems.append(f"shell-version {meta.get('shell-version')!r}")
for key in ("name", "description"):
    if not meta.get(key):
        problems.append(f"no {key}")
if problems:
    print("FAIL: metadata.json: " + ", ".join(problems))
    sys.exit(1)
print(f"ok: {sys.argv[2]}.shell-extension.zip, shell-version {meta['shell-version']}")
PY
[[ $failed == 0 ]] && echo "ok: the zip holds $(echo $packed)"
exit $failed
