#!/usr/bin/env bash
# Set-up and demo in one command: installs what is missing, builds, and boots the bundled demo guest
# (on KVM when /dev/kvm is usable, else on the software accelerator).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/deploy/install-deps.sh"
dotnet build "$root/src/Host/Actorvisor.Host.csproj" -c Release -nologo -v q -clp:ErrorsOnly >&2
exec dotnet "$root/src/Host/bin/Release/net10.0/actorvisor.dll" demo "$@"
