#!/bin/busybox sh
# udhcpc event script of the rackboot test appliance (see init.sh). $mask is the prefix length.
case "$1" in
  deconfig)
    ip addr flush dev "$interface"
    ip link set "$interface" up
    ;;
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    if [ -n "$router" ]; then
      for r in $router; do
        ip route add default via "$r" dev "$interface" && break
      done
    fi
    echo "RACKBOOT-DHCP-BOUND ip=$ip mask=${mask:-24} server=${serverid:-}"
    ;;
esac
exit 0
