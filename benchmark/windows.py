"""Per-window returns and episode lengths of finished or running jobs: where a run gained, stood still or collapsed.

report.py gives one figure per run (the last 20 episodes); this prints, for every job matching a pattern, one row
per window of environment steps: the episodes that ended in it, their mean, lowest and highest return, their mean
length, and how many of them fell within --fall-length steps (a collapse shows as a spell of such falls).

Usage:
    python benchmark/windows.py 'rat-final-gamma0.993__Hopper-v5__s2__1M'
    python benchmark/windows.py 'rat-final-gamma0.993__Hopper-v5__s2*' --window 8000 --start 880000
"""

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import tyro

from report import read_run


@dataclass
class Args:
    jobs: tyro.conf.Positional[tuple[str, ...]]
    """job folder names under --work-dir, shell wildcards allowed (say 'rat__Hopper-v5__s*')"""
    work_dir: str = "benchmark/work"
    """where run_grid.py put the jobs"""
    window: int = 100_000
    """environment steps per row"""
    start: int = 0
    """first step of the first window"""
    end: Optional[int] = None
    """last step of the last window (default: the job's last logged step)"""
    fall_length: int = 100
    """an episode shorter than this many steps counts as a fall"""


def window_rows(steps: np.ndarray, returns: np.ndarray, lengths: np.ndarray, start: int, end: int, window: int,
                fall_length: int) -> list[dict]:
    """One row per window (lo, hi] of `window` steps from `start` to `end`, over the episodes that ended in it.
    `lengths` may be empty (not logged); the length columns are nan then."""
    rows = []
    for lo in range(start, end, window):
        hi = min(lo + window, end)
        inside = (steps > lo) & (steps <= hi)
        episode_returns = returns[inside]
        episode_lengths = lengths[inside] if len(lengths) == len(returns) else np.array([])
        row = dict(first=lo, last=hi, episodes=int(inside.sum()), mean=np.nan, low=np.nan, high=np.nan, length=np.nan, falls=np.nan)
        if len(episode_returns):
            row.update(mean=episode_returns.mean(), low=episode_returns.min(), high=episode_returns.max())
        if len(episode_lengths):
            row.update(length=episode_lengths.mean(), falls=int((episode_lengths < fall_length).sum()))
        rows.append(row)
    return rows


def format_rows(rows: list[dict], fall_length: int) -> str:
    def number(value: float) -> str:
        return "–" if np.isnan(value) else f"{value:.0f}"

    lines = [f"| steps | episodes | mean return | lowest | highest | mean length | falls < {fall_length} steps |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        lines.append(f"| {row['first']:,}–{row['last']:,} | {row['episodes']} | {number(row['mean'])} | {number(row['low'])} | "
                     f"{number(row['high'])} | {number(row['length'])} | {number(row['falls'])} |")
    return "\n".join(lines)


def main(args: Args) -> None:
    if args.window <= 0 or args.fall_length <= 0:
        sys.exit(f"--window and --fall-length must be positive, got {args.window} and {args.fall_length}.")
    job_dirs = sorted({path for pattern in args.jobs for path in Path(args.work_dir).glob(pattern) if (path / "job.json").exists()})
    if not job_dirs:
        sys.exit(f"No job under {args.work_dir} matches {' or '.join(args.jobs)}.")
    for job_dir in job_dirs:
        run = read_run(job_dir, last_episodes=20)
        if run is None:
            print(f"## {job_dir.name}\n\nnothing logged yet\n")
            continue
        end = args.end if args.end is not None else run["steps"]
        status = "finished" if run["finished"] else f"running, at step {run['steps']:,}"
        rows = window_rows(run["curve_steps"], run["episode_returns"], run["episode_lengths"], args.start, end, args.window, args.fall_length)
        print(f"## {job_dir.name} ({status}; last 20 episodes {run['last_return']:.0f})\n\n{format_rows(rows, args.fall_length)}\n")


if __name__ == "__main__":
    main(tyro.cli(Args))
