#!/usr/bin/env bash
# Installs the Debian packages rackboot needs: "runtime" for `rackboot serve`, "test" for the full test
# and benchmark suite (QEMU firmware, baseline servers, real DHCP/TFTP clients). Idempotent.
set -euo pipefail
runtime=(ipxe)
test=(ipxe qemu-system-x86 ipxe-qemu ovmf busybox-static radvd cpio xorriso isolinux syslinux-common
  grub-efi-amd64-bin grub-common mtools squashfs-tools iproute2 dnsmasq-base kea-admin kea-dhcp4-server
  tftp-hpa tftpd-hpa atftp nginx-light udhcpc isc-dhcp-client curl tcpdump chromium openssl docker-registry)
case "${1:-runtime}" in
  runtime) want=("${runtime[@]}") ;;
  test) want=("${test[@]}") ;;
  *) echo "usage: $0 runtime|test" >&2; exit 2 ;;
esac
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing Debian packages: ${missing[*]}; run as root (sudo make ...)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# policy-rc.d keeps package installs from starting system daemons (nginx, tftpd-hpa, kea) on this host.
if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; trap 'rm -f /usr/sbin/policy-rc.d' EXIT; fi
apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 "${missing[@]}"
