#!/usr/bin/env bash
# A real Slurm cluster on this one machine, for `fleet submit --slurm` and its tests: munge, one
# slurmctld and N slurmd daemons named as separate nodes (n1…nN), everything under one folder,
# no systemd, no cgroups. Facts from ../shared/toolchain.md ("A real Slurm cluster on one
# machine"). Needs root and Debian's slurmctld slurmd slurm-client munge (`start` installs them
# when apt-get is there).
#
#   tools/slurm-cluster.sh start [DIR] [NODES]   # default /tmp/sparsefleet-slurm, 3 nodes; prints `export SLURM_CONF=…`
#   tools/slurm-cluster.sh stop [DIR]            # scancel everything, then SIGTERM the pids it started
#   tools/slurm-cluster.sh env [DIR]             # the export line again
set -euo pipefail
cmd=${1:-}
dir=${2:-/tmp/sparsefleet-slurm}
nodes=${3:-3}

die() { echo "slurm-cluster: $*" >&2; exit 1; }

install() {
    command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null && command -v munged >/dev/null && return
    command -v apt-get >/dev/null || die "slurmctld, slurmd, slurm-client and munge are missing and apt-get is not here; install them"
    echo "==> installing slurmctld slurmd slurm-client munge"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null 2>&1 \
        || die "apt-get install slurmctld slurmd slurm-client munge failed"
}

start() {
    [ "$(id -u)" = 0 ] || die "needs root (slurmd runs jobs as their user; this cluster runs them as root)"
    install
    if [ -f "$dir/slurm.conf" ] && scontrol_ok; then echo "export SLURM_CONF=$dir/slurm.conf"; return; fi
    stop_daemons 2>/dev/null || true
    mkdir -p "$dir"/{munge,state,spool,log,run}
    chmod 755 "$dir" "$dir/munge"
    head -c 1024 /dev/urandom > "$dir/munge/munge.key"; chmod 400 "$dir/munge/munge.key"
    munged --force --socket="$dir/munge/munge.socket" --key-file="$dir/munge/munge.key" --pid-file="$dir/run/munged.pid" \
        --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munge.seed"
    munge -S "$dir/munge/munge.socket" -n | unmunge -S "$dir/munge/munge.socket" >/dev/null || die "munge does not answer (see $dir/log/munged.log)"
    local host; host=$(hostname -s)
    local cpus; cpus=$(nproc)
    cat > "$dir/slurm.conf" <<CONF
ClusterName=sparsefleet
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=16817
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/log/jobcomp.txt
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerParameters=bf_interval=1
SlurmdParameters=config_overrides
ReturnToService=2
MailProg=/bin/true
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd-%n.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd-%n.log
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
MinJobAge=300
NodeName=n[1-$nodes] NodeHostname=$host NodeAddr=127.0.0.1 Port=[17001-$((17000 + nodes))] CPUs=$cpus RealMemory=4000 State=UNKNOWN
PartitionName=debug Nodes=n[1-$nodes] Default=YES MaxTime=INFINITE State=UP
CONF
    export SLURM_CONF=$dir/slurm.conf
    for i in $(seq 1 "$nodes"); do mkdir -p "$dir/spool/n$i"; done
    slurmctld -f "$SLURM_CONF"
    for i in $(seq 1 "$nodes"); do slurmd -f "$SLURM_CONF" -N "n$i"; done
    for _ in $(seq 1 60); do
        if [ "$(sinfo -h -o '%T' 2>/dev/null | grep -c -E '^idle')" -ge 1 ] && ! sinfo -h -o '%T' 2>/dev/null | grep -q -E 'unk|down|inval'; then
            echo "export SLURM_CONF=$SLURM_CONF"; return
        fi
        sleep 0.5
    done
    sinfo >&2 || true
    die "the nodes did not come up idle in 30 s; see $dir/log/"
}

scontrol_ok() { SLURM_CONF=$dir/slurm.conf scontrol ping 2>/dev/null | grep -q UP; }

stop_daemons() {
    for f in "$dir"/run/slurmd-*.pid "$dir/run/slurmctld.pid" "$dir/run/munged.pid"; do
        [ -f "$f" ] || continue
        local pid; pid=$(cat "$f")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        kill -9 "$pid" 2>/dev/null || true
        rm -f "$f"
    done
    # a slurmd's slurmstepd (and its job's processes) outlive the slurmd; end them too
    pkill -f "slurmstepd: \[" 2>/dev/null || true
}

stop() {
    [ -f "$dir/slurm.conf" ] || { echo "slurm-cluster: nothing started in $dir"; return; }
    SLURM_CONF=$dir/slurm.conf scancel --full --quiet --user="$(id -un)" 2>/dev/null || true
    sleep 0.5
    stop_daemons
    echo "slurm-cluster: stopped ($dir)"
}

case $cmd in
    start) start ;;
    stop) stop ;;
    env) echo "export SLURM_CONF=$dir/slurm.conf" ;;
    *) sed -n '2,12p' "$0" >&2; exit 2 ;;
esac
