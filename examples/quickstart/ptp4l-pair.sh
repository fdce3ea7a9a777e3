#!/usr/bin/env bash
# The quick start's linuxptp: a ptp4l master and a slave in two network
# namespaces joined by a veth pair; the slave's output goes to the agent's
# log socket. SAFETY: ptp4l run as root steers the host's clock. Both run
# here without CAP_SYS_TIME (setpriv), so the kernel refuses every clock
# adjustment (the slave logs "failed to adjust the clock: Operation not
# permitted"; that is expected), and the master is free running. Never run
# phc2sys or ts2phc this way with CAP_SYS_TIME.
#
# Root (namespaces), linuxptp, iproute2 and socat. Ctrl-C stops it and
# removes the namespaces (named $QS_NAME-m and $QS_NAME-s; default cea-qs,
# also the veth names the configs' sections use).
#   sudo examples/quickstart/ptp4l-pair.sh [path of the agent's log socket]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
sock=$(realpath "${1:-run/events.sock}")
name=${QS_NAME:-cea-qs}
m=$name-m s=$name-s
nocap=(setpriv --bounding-set=-sys_time --inh-caps=-sys_time)

cleanup() {
  # Ctrl-C reaches the whole process group, and may arrive twice: ignore
  # it from here on so the namespaces are always removed.
  trap '' INT TERM
  trap - EXIT
  ip netns del "$m" 2>/dev/null || true
  ip netns del "$s" 2>/dev/null || true
  kill $(jobs -p) 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

[ -S "$sock" ] || { echo "no log socket at $sock: start the agent first (cargo xtask run)" >&2; exit 1; }
ip netns add "$m"
ip netns add "$s"
ip link add "$m" type veth peer name "$s"
ip link set "$m" netns "$m"
ip link set "$s" netns "$s"
for ns in "$m" "$s"; do
  ip -n "$ns" link set lo up
  ip -n "$ns" link set "$ns" up
done

ip netns exec "$m" "${nocap[@]}" ptp4l -f "$here/master.cfg" -i "$m" -q >/dev/null 2>&1 &
# The slave's lines, as linuxptp-daemon writes them to the socket
# (message_tag adds the [ptp4l.0.config] tag).
ip netns exec "$s" "${nocap[@]}" ptp4l -f "$here/ptp4l.0.config" -i "$s" -m -q 2>&1 \
  | tee /dev/stderr | socat -u - "UNIX-CONNECT:$sock" &
wait
