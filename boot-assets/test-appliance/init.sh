#!/bin/busybox sh
# /init of the rackboot test appliance initramfs (busybox-static). Built by server/lab/test-appliance.ts.
#
# Loads the NIC drivers (virtio_net, e1000 and their dependencies, order in /mods/order), gets a lease with
# udhcpc (vendor class "rackboot-test"), then phones home:
#   GET <url>?mac=<eth0 mac>&uptime=<seconds>     (or "&mac=…" if <url> already has a query)
# <url> comes from rackboot.phonehome=<url> on the kernel command line, else from the file /phonehome-url
# (e.g. from a second, concatenated initrd), else there is nothing to phone and the VM just powers off.
# Console markers (stable, matched by tests):
#   RACKBOOT-INIT-START
#   RACKBOOT-DHCP-BOUND ip=… mask=… server=…          (from /udhcpc.sh)
#   RACKBOOT-PHONEHOME-OK mac=… url=…
#   RACKBOOT-PHONEHOME-FAIL reason=… mac=…
#   RACKBOOT-PHONEHOME-NONE mac=…                      (no URL configured)
#   RACKBOOT-POWEROFF
# Always ends with poweroff -f (QEMU runs with -no-reboot; a panic reboots via panic=-1 and QEMU exits too).

/bin/busybox --install -s /bin
export PATH=/bin
set -f

mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mkdir -p /tmp /run

echo "RACKBOOT-INIT-START kernel=$(uname -r)"

finish() {
  echo "RACKBOOT-POWEROFF"
  sync
  poweroff -f
  sleep 5
  echo o > /proc/sysrq-trigger
}

if [ -f /mods/order ]; then
  while read -r m; do
    [ -n "$m" ] && insmod "/mods/$m.ko" 2>/dev/null
  done < /mods/order
fi

i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 60 ]; do
  sleep 0.25
  i=$((i + 1))
done
if [ ! -e /sys/class/net/eth0 ]; then
  echo "RACKBOOT-PHONEHOME-FAIL reason=no-eth0 mac="
  finish
fi
MAC=$(cat /sys/class/net/eth0/address)

ip link set lo up
ip link set eth0 up
if ! udhcpc -i eth0 -n -q -t 10 -T 2 -V rackboot-test -s /udhcpc.sh; then
  echo "RACKBOOT-PHONEHOME-FAIL reason=dhcp mac=$MAC"
  finish
fi

# Installer mode (stands in for kairos-agent): with config_url= on the command line, fetch the user-data,
# report install start, write a marker to the first virtio disk, report install done, reboot.
CONFIG_URL=
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    config_url=*) CONFIG_URL="${arg#config_url=}" ;;
  esac
done
if [ -n "$CONFIG_URL" ]; then
  if ! timeout 30 wget -q -O /tmp/user-data "$CONFIG_URL"; then
    echo "RACKBOOT-INSTALL-FAIL reason=user-data mac=$MAC"
    finish
  fi
  hook() { grep -o "http://[^' ]*/callback/$1" /tmp/user-data | head -n 1; }
  DEVICE=$(sed -n 's/^  device: *//p' /tmp/user-data | head -n 1)
  echo "RACKBOOT-INSTALL-START device=$DEVICE"
  timeout 20 wget -q -O - "$(hook install-start)" || echo "RACKBOOT-INSTALL-WARN install-start callback failed"
  i=0
  while [ ! -b /dev/vda ] && [ $i -lt 40 ]; do sleep 0.25; i=$((i + 1)); done
  if [ ! -b /dev/vda ]; then
    echo "RACKBOOT-INSTALL-FAIL reason=no-disk mac=$MAC"
    finish
  fi
  printf 'RACKBOOT-INSTALLED mac=%s device=%s\n' "$MAC" "$DEVICE" | dd of=/dev/vda conv=notrunc,fsync 2>/dev/null
  sync
  timeout 20 wget -q -O - "$(hook install-done)" || echo "RACKBOOT-INSTALL-WARN install-done callback failed"
  echo "RACKBOOT-INSTALL-DONE mac=$MAC"
  sync
  reboot -f
  sleep 5
  finish
fi

URL=
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    rackboot.phonehome=*) URL="${arg#rackboot.phonehome=}" ;;
  esac
done
if [ -z "$URL" ] && [ -s /phonehome-url ]; then
  URL=$(head -n 1 /phonehome-url)
fi
if [ -z "$URL" ]; then
  echo "RACKBOOT-PHONEHOME-NONE mac=$MAC"
  finish
fi

case "$URL" in
  *\?*) SEP='&' ;;
  *) SEP='?' ;;
esac
ok=
for attempt in 1 2 3; do
  UP=$(cut -d' ' -f1 /proc/uptime)
  # Not "wget -T": busybox-static 1.35's wget segfaults with -T; the timeout applet bounds it instead.
  if BODY=$(timeout 20 wget -q -O - "${URL}${SEP}mac=${MAC}&uptime=${UP}"); then
    ok=1
    break
  fi
  sleep 1
done
if [ -n "$ok" ]; then
  echo "RACKBOOT-PHONEHOME-OK mac=$MAC url=$URL"
  [ -n "$BODY" ] && echo "RACKBOOT-PHONEHOME-RESPONSE $(echo "$BODY" | head -c 200 | tr '\n' ' ')"
else
  echo "RACKBOOT-PHONEHOME-FAIL reason=http mac=$MAC url=$URL"
fi
finish
