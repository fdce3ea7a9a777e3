#!/bin/sh
# /init of the vm-test guest (written into the initramfs by cargo xtask vm-test).
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /tmp /run /var/run
insmod /lib/modules/e1000e.ko
sleep 1
ip link set lo up
ip link set eth0 up
ip link set eth1 up
ls /dev/ptp*
# The agent mounts tracefs itself.
LOG_LEVEL=info,cloud_event_agent::source=debug cloud-event-agent --source ebpf \
  --node-name vm --api-addr 127.0.0.1 --metrics-addr 127.0.0.1:9091 --store-path /tmp \
  >/tmp/agent.log 2>&1 &
AGENT=$!
i=0
until wget -q -O /tmp/health http://127.0.0.1:9043/api/ocloudNotifications/v2/health/detail; do
  i=$((i + 1))
  if [ $i -gt 240 ] || ! kill -0 $AGENT 2>/dev/null; then break; fi
  sleep 1
done
# Real clock_adjtime calls on a real PHC (the guest's clock only).
phc2sys -s CLOCK_REALTIME -c /dev/ptp0 -O 0 -m >/tmp/phc2sys.log 2>&1 &
PHC=$!
sleep 8
kill $PHC
sleep 3
echo CEA-VM-HEALTH
cat /tmp/health
echo
echo CEA-VM-METRICS
wget -q -O - http://127.0.0.1:9091/metrics | grep '^cloud_event_agent_'
echo CEA-VM-AGENT-LOG
tail -n 40 /tmp/agent.log
echo CEA-VM-PHC2SYS-LOG
tail -n 5 /tmp/phc2sys.log
echo CEA-VM-END
poweroff -f
