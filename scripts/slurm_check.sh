#!/usr/bin/env bash
# A sharded run on a real Slurm: installs Debian's slurm-wlm and munge, starts a controller and
# a node daemon on this machine (state under $DIR, root as SlurmUser), submits the README's
# array script (3 tasks, numbered from 1) on the fixtures' workflow images, merges the shards and
# compares them byte for byte with one run. Not part of the tests (it starts daemons and needs
# root); run after scripts/test.sh has built the binary and the fixtures:
#   scripts/slurm_check.sh [DIR]        (default /tmp/extract-slurm)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
dir=${1:-/tmp/extract-slurm}
binary=$root/.build/release/extract
fixtures=$root/.fixtures/current
[ -x "$binary" ] && [ -d "$fixtures/heads/workflow" ] || { echo "error: run scripts/test.sh first" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "error: starts slurmctld, slurmd and munged as root; run as root" >&2; exit 1; }

command -v slurmctld >/dev/null || {
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
}
mkdir -p "$dir"/state "$dir"/spool "$dir"/run /etc/munge /var/log/munge /run/munge
[ -f /etc/munge/munge.key ] || dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
chown -R munge:munge /etc/munge /var/log/munge /run/munge
chmod 400 /etc/munge/munge.key
pgrep -x munged >/dev/null || munged --force

host=$(hostname)
export SLURM_CONF=$dir/slurm.conf
cat > "$SLURM_CONF" <<EOF
ClusterName=local
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
ReturnToService=2
MpiDefault=none
NodeName=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
pgrep -x slurmctld >/dev/null || slurmctld -f "$SLURM_CONF"
sleep 2
pgrep -x slurmd >/dev/null || slurmd -f "$SLURM_CONF"
for _ in $(seq 30); do sinfo -h -o %T 2>/dev/null | grep -q idle && break; sleep 1; done
sinfo

out=$dir/run
rm -f "$out"/*
cat > "$out/extract-array.sh" <<EOF
#!/bin/bash
#SBATCH --job-name=features
#SBATCH --array=1-3
#SBATCH --cpus-per-task=1
#SBATCH --output=$out/task-%a.log
$binary --weights $fixtures/full/mobilenet_v2_0.35_96_k3_full.h5 --pooling avg --threads "\$SLURM_CPUS_PER_TASK" $fixtures/heads/workflow/train -o $out/feats.npy
EOF
job=$(sbatch --parsable "$out/extract-array.sh")
echo "slurm: submitted array job $job"
for _ in $(seq 300); do [ -z "$(squeue -h -j "$job" 2>/dev/null)" ] && break; sleep 1; done
sacct -j "$job" -n -o JobID,State,ExitCode 2>/dev/null || true
"$binary" merge "$out"/feats.shard-*-of-3.npy -o "$out/merged.npy"
"$binary" --weights "$fixtures/full/mobilenet_v2_0.35_96_k3_full.h5" --pooling avg "$fixtures/heads/workflow/train" \
    -o "$out/one.npy" --quiet
for ext in npy labels.npy classes.txt index.csv; do
    cmp "$out/merged.$ext" "$out/one.$ext"
done
echo "slurm: 3 array tasks merged are byte-identical to one run ($out)"
