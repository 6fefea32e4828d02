"""Turn the runs of benchmark/run_grid.py into a CSV, a markdown table and learning curves.

Reads every `{work_dir}/{job}/job.json` (method, env, seed, budget) and the TensorBoard events of
the job's `runs/`, and writes to `{out_dir}/`:

- returns.csv: one row per run: its final return, the mean of the raw environment returns of the
  last 20 training episodes (the metric of RAT.md §6); its deterministic evaluation,
  eval/episodic_return (logged with --save-model), if present; the environment steps reached and the
  step of the last finished episode (far below it, the final return is of old episodes); the
  wall-clock seconds from the start of training to its last logged iteration (a resumed run's time
  down left out, see resume_pauses); and whether the job finished (done.json). From
  charts/episodic_length, where logged: the last 20 episodes' mean length, the share of them that ran
  as long as the longest episode of any run of that env (on MuJoCo, the 1,000-step time limit: the
  others ended in a fall) and the mean raw return of those full episodes and of the others.
- table.md: per env and budget, mean ± std over seeds (sample std) of each method's final
  return, "(n)" the number of seeds; a second table for the deterministic evaluation.
- {env}_{budget}.png: learning curves, return against environment steps and against wall-clock
  minutes, one line per method (or per --plot-methods, where given): the mean over seeds of each
  run's trailing mean of 20 episodes, interpolated onto a common grid spanning the range every seed
  covers; the band is ± one std over seeds.

Only finished jobs enter the table and the plots; the CSV lists the others too, marked.

Usage:  python benchmark/report.py --bar      (--bar adds RAT.md §6's bar, read from the grid file)
"""

import csv
import json
import os
import sys
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Optional

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import tyro
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from run_grid import load_grid, steps_label


@dataclass
class Args:
    work_dir: str = "benchmark/work"
    """where run_grid.py put the jobs"""
    out_dir: str = "benchmark/results"
    """where returns.csv, table.md and the PNGs go"""
    grid: Optional[str] = "benchmark/grids/mujoco.py"
    """grid file whose methods (METHODS, in its order), envs (ENVS) and seeds (SEEDS) are reported, with its bar (BAR); none: every method found, alphabetical, no bar"""
    bar: bool = False
    """if toggled, add the grid file's BAR (RAT.md §6: 1.2 × the better baseline) as a column, on rows of the grid's budget"""
    filter: tuple[str, ...] = ()
    """report only jobs whose name contains one of these patterns (shell wildcards allowed)"""
    last_episodes: int = 20
    """the final return is the mean of this many last training episodes; the curves' smoothing window"""
    plot_methods: tuple[str, ...] = ()
    """methods drawn in the learning-curve PNGs, in this order (default: every method of the table; past a dozen the curves hide each other)"""
    scalars: tuple[str, ...] = ()
    """TensorBoard tags (say policy/relative_residual) to tabulate in scalars.md: each run's mean over the first and the last 10% of its budget, mean over seeds"""


def trailing_mean(values: np.ndarray, window: int) -> np.ndarray:
    """y_i = mean(values[i − window + 1 … i]), fewer at the start."""
    sums = np.concatenate([[0.0], np.cumsum(values)])
    ends = np.arange(1, len(values) + 1)
    counts = np.minimum(ends, window)
    return (sums[ends] - sums[ends - counts]) / counts


def drop_orphans(events: list) -> list:
    """A run resumed from a checkpoint logs again from the checkpoint's step; the episodes its interrupted
    attempt logged after that step stay in the event files. Keep only the last writing of every step."""
    kept = []
    for event in events:
        if kept and event.step < kept[-1].step:
            while kept and kept[-1].step >= event.step:
                kept.pop()
        kept.append(event)
    return kept


def resume_pauses(events: list, start: float) -> list[tuple[float, float]]:
    """A resumed run's clock should not count the time it was down. For each resume: (the wall time of the resumed
    attempt's first event, the seconds to take off it and every later event). Those seconds run from the interrupted
    attempt's last event at or before the resumed attempt's first step (the work past it was lost) to that first
    event, less the time the steps between the two take at the run's own pace. A resume shows as a step that goes
    back; an attempt that died exactly at its checkpoint leaves no such trace, and its pause stays in."""
    events = sorted(events, key=lambda event: event.wall_time)
    resumes = [i for i in range(1, len(events)) if events[i].step < events[i - 1].step]
    stretches = list(zip([0] + resumes, resumes + [len(events)]))  # the uninterrupted attempts, [first, end)
    steps = sum(events[end - 1].step - events[first].step for first, end in stretches)
    seconds = sum(events[end - 1].wall_time - events[first].wall_time for first, end in stretches)
    pace = steps / seconds if seconds > 0 else float("inf")  # environment steps per second
    pauses = []
    for i in resumes:
        resumed = events[i]
        anchor = max((event for event in events[:i] if event.step <= resumed.step), key=lambda event: event.wall_time, default=None)
        anchor_time, anchor_step = (anchor.wall_time, anchor.step) if anchor else (start, 0)
        pauses.append((resumed.wall_time, max(0.0, resumed.wall_time - anchor_time - (resumed.step - anchor_step) / pace)))
    return pauses


def early_and_late(events: list, total_timesteps: int) -> tuple[float, float]:
    """Mean of a scalar over the first and over the last 10% of the budget's steps (nan where it has no point)."""
    steps, values = np.array([event.step for event in events]), np.array([event.value for event in events])
    early, late = values[steps <= 0.1 * total_timesteps], values[steps > 0.9 * total_timesteps]
    return (float(early.mean()) if len(early) else float("nan")), (float(late.mean()) if len(late) else float("nan"))


def last_episodes_by_length(returns: np.ndarray, lengths: np.ndarray, full_length: float, last_episodes: int) -> dict:
    """The last episodes' mean length, the share of them at least `full_length` long (the longest episode of any run
    of the env: its time limit, where runs reach it) and the mean return of those full episodes and of the shorter ones."""
    nan = float("nan")
    if len(lengths) != len(returns) or not len(lengths):
        return dict(last_length=nan, last_full_share=nan, last_return_full=nan, last_return_short=nan)
    last_returns, last_lengths = returns[-last_episodes:], lengths[-last_episodes:]
    full = last_lengths >= full_length
    return dict(last_length=float(last_lengths.mean()), last_full_share=float(full.mean()),
                last_return_full=float(last_returns[full].mean()) if full.any() else nan,
                last_return_short=float(last_returns[~full].mean()) if (~full).any() else nan)


def read_run(job_dir: Path, last_episodes: int, scalars: tuple[str, ...] = ()) -> Optional[dict]:
    """A job's metadata, final returns, learning curve and the `scalars`' early and late means; None if it has not logged anything yet."""
    meta = json.loads((job_dir / "job.json").read_text())
    run_dirs = sorted(path for path in (job_dir / "runs").glob("*") if path.is_dir())
    if not run_dirs:
        return None
    if len(run_dirs) > 1:
        print(f"warning: {job_dir} holds {len(run_dirs)} runs; reading the last, {run_dirs[-1].name}")
    events = EventAccumulator(str(run_dirs[-1]), size_guidance={"scalars": 0})  # 0: keep every point
    events.Reload()
    tags = events.Tags()["scalars"]
    start = events.FirstEventTimestamp()
    training = [event for tag in tags if not tag.startswith("eval/") for event in events.Scalars(tag)]
    if not training:
        return None
    episodes = drop_orphans(events.Scalars("charts/episodic_return")) if "charts/episodic_return" in tags else []
    returns = np.array([event.value for event in episodes])
    length_events = drop_orphans(events.Scalars("charts/episodic_length")) if "charts/episodic_length" in tags else []
    pauses = resume_pauses(training, start)

    def seconds_running(wall_time: float) -> float:
        return wall_time - start - sum(seconds for resumed_at, seconds in pauses if resumed_at <= wall_time)

    return dict(
        job=job_dir.name,
        method=meta["method"],
        env_id=meta["env_id"],
        seed=meta["seed"],
        total_timesteps=meta["total_timesteps"],
        steps=max(event.step for event in training),
        last_episode_step=episodes[-1].step if episodes else 0,
        finished=(job_dir / "done.json").exists(),
        last_return=float(returns[-last_episodes:].mean()) if len(returns) else float("nan"),
        eval_return=events.Scalars("eval/episodic_return")[-1].value if "eval/episodic_return" in tags else float("nan"),
        wall_seconds=seconds_running(max(event.wall_time for event in training)),
        curve_steps=np.array([event.step for event in episodes]),
        curve_minutes=np.array([seconds_running(event.wall_time) / 60 for event in episodes]),
        curve_returns=trailing_mean(returns, last_episodes) if len(returns) else returns,
        episode_returns=returns,
        episode_lengths=np.array([event.value for event in length_events]),
        scalars={tag: early_and_late(drop_orphans(events.Scalars(tag)), meta["total_timesteps"]) for tag in scalars if tag in tags},
    )


def write_csv(runs: list[dict], path: Path) -> None:
    columns = ["method", "env_id", "seed", "total_timesteps", "steps", "last_episode_step", "finished", "last_return", "eval_return", "wall_seconds",
               "last_length", "last_full_share", "last_return_full", "last_return_short", "job"]
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(columns)
        for run in runs:
            out.writerow([round(run[c], 2 if c == "last_full_share" else 1) if isinstance(run[c], float) else run[c] for c in columns])


def mean_std_cell(values: list[float]) -> str:
    """'mean ± std (n)' over seeds, sample std, to the unit (a tenth for means below 100, as Atari scores); '–' when no seed has the value."""
    values = [v for v in values if not np.isnan(v)]
    if not values:
        return "–"
    digits = 1 if abs(np.mean(values)) < 100 else 0
    if len(values) == 1:
        return f"{values[0]:.{digits}f} (1)"
    return f"{np.mean(values):.{digits}f} ± {np.std(values, ddof=1):.{digits}f} ({len(values)})"


def markdown_table(groups: dict, methods: list[str], key: str, bar: Optional[dict] = None, bar_steps: int = 0) -> str:
    """Rows (env, budget), columns the methods; `bar` {env: return} fills the last column on rows of budget `bar_steps`."""
    header = ["env", "steps"] + methods + (["bar (RAT.md §6)"] if bar is not None else [])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for (env_id, steps), by_method in groups.items():
        cells = [env_id, steps_label(steps)] + [mean_std_cell([run[key] for run in by_method.get(m, [])]) for m in methods]
        if bar is not None:
            cells.append(f"≥ {bar[env_id]}" if env_id in bar and steps == bar_steps else "–")
        lines.append("| " + " | ".join(cells) + " |")
    if bar and any(steps == bar_steps for _, steps in groups):  # one figure to rank methods across tasks: each env's mean over seeds as a fraction of its bar, averaged
        cells = ["return / bar, mean over the bar's envs", steps_label(bar_steps)]
        for m in methods:
            by_env = [groups.get((env_id, bar_steps), {}).get(m, []) for env_id in bar]
            if not all(by_env):  # only a method that ran on every env
                cells.append("–")
                continue
            fractions = [np.mean([run[key] for run in env_runs]) / target for env_runs, target in zip(by_env, bar.values())]
            cells.append(f"{np.mean(fractions):.2f}")
        lines.append("| " + " | ".join(cells + ["≥ 1"]) + " |")
    return "\n".join(lines)


def band(xs: list[np.ndarray], ys: list[np.ndarray], points: int = 200):
    """Mean and std over seeds of curves interpolated onto one grid over the x range every seed covers."""
    grid = np.linspace(max(x[0] for x in xs), min(x[-1] for x in xs), points)
    curves = np.array([np.interp(grid, x, y) for x, y in zip(xs, ys)])  # (seeds, points)
    return grid, curves.mean(0), curves.std(0, ddof=1 if len(curves) > 1 else 0)


def scalars_table(groups: dict, methods: list[str], tags: tuple[str, ...]) -> str:
    """Rows (env, budget, tag), columns the methods: 'early → late', each the mean over seeds."""
    lines = ["| env | steps | scalar | " + " | ".join(methods) + " |", "|---" * (len(methods) + 3) + "|"]
    for (env_id, steps), by_method in groups.items():
        for tag in tags:
            cells = []
            for method in methods:
                pairs = np.array([run["scalars"][tag] for run in by_method.get(method, []) if tag in run["scalars"]]).reshape(-1, 2)
                cells.append(f"{np.nanmean(pairs[:, 0]):.2g} → {np.nanmean(pairs[:, 1]):.2g} ({len(pairs)})" if len(pairs) else "–")
            lines.append(f"| {env_id} | {steps_label(steps)} | {tag} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_env(env_id: str, steps: int, by_method: dict, methods: list[str], window: int, path: Path) -> None:
    """Return vs environment steps (left) and vs wall-clock minutes (right), one line and band per method."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    colors = plt.get_cmap("tab10" if len(methods) <= 10 else "tab20")
    for index, method in enumerate(methods):
        runs = [run for run in by_method.get(method, []) if len(run["curve_returns"]) > 1]
        if not runs:
            continue
        style = dict(color=colors(index % colors.N), linestyle=("-", "--", ":")[index // colors.N % 3])  # distinct past 10 or 20 methods
        for ax, x_key in zip(axes, ("curve_steps", "curve_minutes")):
            grid, mean, std = band([run[x_key] for run in runs], [run["curve_returns"] for run in runs])
            ax.plot(grid, mean, **style, label=f"{method} ({len(runs)} seed{'s' if len(runs) > 1 else ''})")
            ax.fill_between(grid, mean - std, mean + std, color=style["color"], alpha=0.2)
    axes[0].set_xlabel("environment steps")
    axes[1].set_xlabel("wall-clock minutes (one thread per run)")
    for ax in axes:
        ax.set_ylabel(f"episodic return (mean of last {window})")
        ax.grid(alpha=0.3)
    if axes[0].get_legend_handles_labels()[0]:
        axes[1].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize="small")  # beside the plots, never over a curve
    fig.suptitle(f"{env_id}, {steps_label(steps)} steps: mean ± std over seeds")
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def main(args: Args) -> None:
    if args.grid and not os.path.isfile(args.grid):
        sys.exit(f"error: grid file {args.grid!r} does not exist; pass --grid None to report without one.")
    grid = load_grid(args.grid) if args.grid else {}  # one sentence if it lacks METHODS, ENVS, SEEDS or TOTAL_TIMESTEPS
    if args.bar and "BAR" not in grid:
        sys.exit(f"error: --bar needs a grid file that defines BAR; {args.grid!r} does not.")
    job_dirs = sorted(path.parent for path in Path(args.work_dir).glob("*/job.json"))
    job_dirs = [d for d in job_dirs if not args.filter or any(fnmatch(d.name, f"*{p}*") for p in args.filter)]
    runs = [run for run in (read_run(d, args.last_episodes, args.scalars) for d in job_dirs) if run is not None]
    if grid:  # runs of other grids that share the work folder stay out, other seeds and envs of the same method too
        runs = [run for run in runs if run["method"] in grid["METHODS"] and run["seed"] in grid["SEEDS"]
                and run["env_id"] in grid["ENVS"]]
    if not runs:
        sys.exit(f"error: no run with TensorBoard events under {args.work_dir}/; start one with benchmark/run_grid.py.")
    longest = {}  # env → its longest episode in any run: the time limit, where a run reached it
    for run in runs:
        if len(run["episode_lengths"]):
            longest[run["env_id"]] = max(longest.get(run["env_id"], 0.0), run["episode_lengths"].max())
    for run in runs:
        run.update(last_episodes_by_length(run["episode_returns"], run["episode_lengths"], longest.get(run["env_id"], 0.0), args.last_episodes))
    unfinished = [run["job"] for run in runs if not run["finished"]]
    if unfinished:
        print(f"left out of the table and plots, not finished: {', '.join(unfinished)}")

    found = {run["method"] for run in runs}
    methods = [m for m in grid["METHODS"] if m in found] if grid else sorted(found)
    missing = [m for m in args.plot_methods if m not in methods]
    if missing:
        sys.exit(f"error: --plot-methods {' '.join(missing)} not among the reported methods ({', '.join(methods)}).")
    groups = {}  # (env, budget) → method → finished runs
    for run in sorted(runs, key=lambda run: (run["env_id"], run["total_timesteps"], run["seed"])):
        if run["finished"]:
            groups.setdefault((run["env_id"], run["total_timesteps"]), {}).setdefault(run["method"], []).append(run)

    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_csv(runs, out_dir / "returns.csv")
    bar = grid.get("BAR", {}) if args.bar else None
    text = [f"Mean ± std over seeds (n seeds in parentheses) of the mean raw return of the last {args.last_episodes} training episodes.",
            markdown_table(groups, methods, "last_return", bar, grid.get("TOTAL_TIMESTEPS", 0))]
    if any(not np.isnan(run["eval_return"]) for run in runs):
        text += ["Evaluation of the final policy (eval/episodic_return of --save-model: deterministic, but for the pixel scripts' sampled actions on Atari), mean ± std over seeds.",
                 markdown_table(groups, methods, "eval_return")]
    (out_dir / "table.md").write_text("\n\n".join(text) + "\n")
    if args.scalars:
        (out_dir / "scalars.md").write_text("Mean over seeds (n) of each run's mean of the scalar over the first 10% → the last 10% of its budget.\n\n"
                                            + scalars_table(groups, methods, args.scalars) + "\n")
        print((out_dir / "scalars.md").read_text())
    for (env_id, steps), by_method in groups.items():
        plot_env(env_id, steps, by_method, list(args.plot_methods) or methods, args.last_episodes, out_dir / f"{env_id.replace('/', '_')}_{steps_label(steps)}.png")
    print((out_dir / "table.md").read_text())
    print(f"wrote {out_dir}/returns.csv ({len(runs)} runs), table.md and {len(groups)} learning-curve PNGs")


if __name__ == "__main__":
    main(tyro.cli(Args))
