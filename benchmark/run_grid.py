"""Run a grid of training jobs (method × env × seed), resumably, a few at a time or on Slurm.

Each job is one training script run as a subprocess, one thread each (OMP_NUM_THREADS=1), in its
own folder `{work_dir}/{job}/` (so its `runs/` lands there) with its output in `log.txt`. A job
that exits with 0 writes `done.json` (exit code, wall seconds, command) and is skipped when the
grid is started again. A job that was interrupted (the machine stopped, Ctrl-C) and left a
checkpoint (the grids pass `--checkpoint-every`) goes on from it with `--resume`, logging into the
same run; a job without one is started afresh, its earlier attempt moved to
`{work_dir}/{job}/failed-{k}/` so no partial run is mistaken for a result. To run a finished job
again (after changing its flags, say), delete its folder. Jobs run seed by seed, so a grid cut
short still compares every method on the same seeds.

A grid is a small Python file (see benchmark/grids/mujoco.py): METHODS, ENVS, SEEDS,
TOTAL_TIMESTEPS and COMMON_FLAGS. Then `python benchmark/report.py` turns the runs into tables
and plots.

Usage:
    python benchmark/run_grid.py --grid benchmark/grids/mujoco.py --workers 2
    python benchmark/run_grid.py --filter rat__Hopper --total-timesteps 100000 --list
    # Slurm, one job per array task (needs `pip install submitit`; the repository on a shared filesystem):
    python benchmark/run_grid.py --slurm --slurm-partition cpu --workers 64
"""

import json
import os
import runpy
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Optional

import tyro
from tqdm import tqdm

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Args:
    grid: str = "benchmark/grids/mujoco.py"
    """the grid file: METHODS, ENVS, SEEDS, TOTAL_TIMESTEPS and COMMON_FLAGS"""
    work_dir: str = "benchmark/work"
    """one folder per job lands here"""
    workers: int = 2
    """jobs running at the same time (on Slurm: the array's parallelism)"""
    total_timesteps: Optional[int] = None
    """override the grid's budget of environment steps per run (it is part of the job's name)"""
    filter: tuple[str, ...] = ()
    """run only jobs whose name `{method}__{env}__s{seed}__{steps}` contains one of these patterns (shell wildcards allowed)"""
    list: bool = False
    """if toggled, list the jobs and whether each is done, then exit without running anything"""
    slurm: bool = False
    """if toggled, submit the jobs as a Slurm job array through submitit (`pip install submitit`) instead of running them here"""
    slurm_partition: Optional[str] = None
    """Slurm partition of the job array"""
    slurm_minutes: int = 24 * 60
    """Slurm time limit per job, minutes"""
    slurm_mem_gb: float = 4.0
    """Slurm memory per job, GB"""


@dataclass(frozen=True)
class Job:
    name: str
    method: str
    env_id: str
    seed: int
    total_timesteps: int
    command: tuple[str, ...]


def steps_label(steps: int) -> str:
    """1000000 → '1M', 300000 → '300k', 4096 → '4096'."""
    if steps % 1_000_000 == 0:
        return f"{steps // 1_000_000}M"
    return f"{steps // 1000}k" if steps % 1000 == 0 else str(steps)


def load_grid(path: str) -> dict:
    """The names a grid file defines; stop with one sentence if it cannot define a grid."""
    if not os.path.isfile(path):
        sys.exit(f"error: grid file {path!r} does not exist; try benchmark/grids/mujoco.py.")
    grid = runpy.run_path(path)
    missing = [name for name in ("METHODS", "ENVS", "SEEDS", "TOTAL_TIMESTEPS") if name not in grid]
    if missing:
        sys.exit(f"error: grid file {path!r} does not define {', '.join(missing)}.")
    return grid


def make_jobs(grid: dict, total_timesteps: Optional[int] = None, patterns: tuple[str, ...] = ()) -> list[Job]:
    """Every (method, env, seed) of the grid as a command line, kept if its name matches a pattern (or there are none)."""
    steps = total_timesteps or grid["TOTAL_TIMESTEPS"]
    jobs = []
    for seed in grid["SEEDS"]:
        for env_id in grid["ENVS"]:
            for method, (script, *method_flags) in grid["METHODS"].items():
                name = f"{method}__{env_id.replace('/', '_')}__s{seed}__{steps_label(steps)}"
                command = (sys.executable, str(REPO / script), *method_flags, "--exp-name", method, "--env-id", env_id,
                           "--seed", str(seed), "--total-timesteps", str(steps), *grid.get("COMMON_FLAGS", []))
                if not patterns or any(fnmatch(name, f"*{pattern}*") for pattern in patterns):
                    jobs.append(Job(name, method, env_id, seed, steps, command))
    return jobs


def run_job(job: Job, work_dir: str) -> tuple[str, int, float]:
    """Run one job in `{work_dir}/{job.name}` unless it is done. Returns (status, exit code, wall seconds)."""
    job_dir = Path(work_dir) / job.name
    if (job_dir / "done.json").exists():
        return "skipped", 0, 0.0
    checkpoints = sorted(job_dir.glob("runs/*/checkpoint.pt"))
    command = job.command + ("--resume", str(checkpoints[-1].relative_to(job_dir))) if checkpoints else job.command
    leftovers = [] if checkpoints else [path for path in job_dir.iterdir() if not path.name.startswith("failed-")] if job_dir.exists() else []
    if leftovers:  # an earlier attempt failed or was interrupted: keep it, out of the report's way
        attempt = job_dir / f"failed-{len(list(job_dir.glob('failed-*'))) + 1}"
        attempt.mkdir()
        for path in leftovers:
            shutil.move(path, attempt / path.name)
    job_dir.mkdir(parents=True, exist_ok=True)
    (job_dir / "job.json").write_text(json.dumps(dict(method=job.method, env_id=job.env_id, seed=job.seed,
                                                      total_timesteps=job.total_timesteps, command=job.command), indent=1))
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1")  # the log follows the run live
    started = time.time()
    with open(job_dir / "log.txt", "a") as log:
        log.write(f"$ {' '.join(command)}\n")
        log.flush()
        returncode = subprocess.run(command, cwd=job_dir, env=env, stdout=log, stderr=subprocess.STDOUT).returncode
    seconds = time.time() - started
    if returncode == 0:
        (job_dir / "done.json").write_text(json.dumps(dict(returncode=0, wall_seconds=round(seconds, 1), command=command), indent=1))
    return ("done" if returncode == 0 else "failed"), returncode, seconds


def log_tail(job: Job, work_dir: str, lines: int = 5) -> str:
    log = Path(work_dir) / job.name / "log.txt"
    return "".join(log.read_text(errors="replace").splitlines(keepends=True)[-lines:]) if log.exists() else ""


def run_here(jobs: list[Job], args: Args) -> int:
    """Run the jobs on this machine, `--workers` at a time, with a progress bar. Returns the number that failed."""
    failed = []
    with ThreadPoolExecutor(args.workers) as pool, tqdm(total=len(jobs), unit="job") as progress:
        futures = {pool.submit(run_job, job, args.work_dir): job for job in jobs}
        try:
            for future in as_completed(futures):
                job = futures[future]
                status, returncode, seconds = future.result()
                progress.update()
                if status == "failed":
                    failed.append(job)
                    progress.write(f"FAILED {job.name} (exit {returncode} after {seconds:.0f} s), log: {Path(args.work_dir) / job.name / 'log.txt'}")
                elif status == "done":
                    progress.write(f"done   {job.name} ({seconds:.0f} s)")
        except KeyboardInterrupt:
            pool.shutdown(wait=False, cancel_futures=True)
            sys.exit("interrupted: waiting for the running jobs to stop; finished jobs are kept, the same command goes on.")
    for job in failed:
        print(f"\n--- {job.name}: end of {Path(args.work_dir) / job.name / 'log.txt'}\n{log_tail(job, args.work_dir)}", end="")
    print(f"\n{len(jobs) - len(failed)} of {len(jobs)} jobs done" + (f", {len(failed)} failed (started again by the next run)." if failed else "."))
    return len(failed)


def submit_to_slurm(jobs: list[Job], args: Args) -> None:
    """One Slurm array task per job; each runs `run_job`, so finished jobs are skipped the same way."""
    try:
        import submitit
    except ImportError:
        sys.exit("error: --slurm needs submitit: `pip install submitit`.")
    executor = submitit.AutoExecutor(folder=Path(args.work_dir) / "slurm" / "%j")
    executor.update_parameters(name="rat-benchmark", timeout_min=args.slurm_minutes, cpus_per_task=1, mem_gb=args.slurm_mem_gb,
                               slurm_array_parallelism=args.workers, slurm_partition=args.slurm_partition)
    work_dir = str(Path(args.work_dir).resolve())  # the array tasks may start in another directory
    submitted = executor.map_array(run_job, jobs, [work_dir] * len(jobs))
    print(f"submitted {len(submitted)} jobs to {executor.cluster} (first job id {submitted[0].job_id}); "
          "the same command with --list instead of --slurm shows which are done.")


def main(args: Args) -> None:
    if args.workers < 1:
        sys.exit("error: --workers must be ≥ 1.")
    jobs = make_jobs(load_grid(args.grid), args.total_timesteps, args.filter)
    if not jobs:
        sys.exit(f"error: no job of {args.grid} matches --filter {' '.join(args.filter)}.")
    if args.list:
        for job in jobs:
            print(f"{'done' if (Path(args.work_dir) / job.name / 'done.json').exists() else 'todo'}  {job.name}  {' '.join(job.command)}")
        return
    missing = sorted({job.command[1] for job in jobs if not os.path.isfile(job.command[1])})
    if missing:
        sys.exit(f"error: script {', '.join(missing)} does not exist; write it or leave its jobs out with --filter.")
    todo = [job for job in jobs if not (Path(args.work_dir) / job.name / "done.json").exists()]
    print(f"{len(jobs)} jobs in the grid, {len(jobs) - len(todo)} already done, {len(todo)} to run in {args.work_dir}/")
    if not todo:
        return
    if args.slurm:
        submit_to_slurm(todo, args)
    elif run_here(todo, args):
        sys.exit(1)


if __name__ == "__main__":
    main(tyro.cli(Args))
