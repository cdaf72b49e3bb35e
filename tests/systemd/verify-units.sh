#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# `systemd-analyze verify` must print nothing for the units as built.
#   verify-units.sh BUILT_SERVICE INSTALLED_RESCTRLD BUILD_RESCTRLD MOUNT_UNIT
# verify insists that ExecStart= exists, and the binary is not installed yet: the unit is copied
# with the installed path replaced by the build's binary, and that must be the only difference.
set -euo pipefail
service=$1 installed=$2 built=$(realpath "$3") mount_unit=$4

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
sed "s|^ExecStart=$installed |ExecStart=$built |" "$service" > "$dir/resctrld.service"
cp "$mount_unit" "$dir/"
changed=$(diff "$service" "$dir/resctrld.service" | grep -c '^>' || true)
if [ "$changed" != 1 ]; then
    echo "FAIL: expected exactly one ExecStart=$installed line in $service, rewrote $changed" >&2
    exit 1
fi

out=$(systemd-analyze verify --man=no "$dir/resctrld.service" "$dir/sys-fs-resctrl.mount" 2>&1) &&
    rc=0 || rc=$?
if [ "$rc" != 0 ] || [ -n "$out" ]; then
    echo "FAIL: systemd-analyze verify exited $rc and printed:" >&2
    echo "$out" >&2
    exit 1
fi
echo "ok: systemd-analyze verify --man=no resctrld.service sys-fs-resctrl.mount printed nothing"
