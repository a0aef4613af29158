"""Start a Dask cluster of SLURM jobs (dask-jobqueue, configured by deploy/slurm/jobqueue.yaml),
print its scheduler address, and keep it up until interrupted.

    DASK_CONFIG=deploy/slurm .venv/bin/python deploy/slurm/dask_cluster.py --jobs 40 > scheduler.address

Run it on the login node (or inside the batch job of gutaxis-run.sbatch); then point gutaxis at it:
    GUTAXIS_SHARD_EXECUTOR=dask:$(head -1 scheduler.address) .venv/bin/gutaxis run
Needs the optional deployment extra (deploy/requirements-cluster.txt: dask-jobqueue).
"""
import argparse
import signal
import sys


def main() -> int:
    from dask_jobqueue import SLURMCluster

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=8, help="SLURM jobs (= Dask workers) to keep running")
    args = parser.parse_args()
    cluster = SLURMCluster()  # every setting from jobqueue.yaml
    cluster.scale(jobs=args.jobs)
    print(cluster.scheduler_address, flush=True)
    print(cluster.job_script(), file=sys.stderr, flush=True)
    try:
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        cluster.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
