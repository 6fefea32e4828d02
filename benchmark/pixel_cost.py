"""What RAT costs from pixels: the targets of issue 9, measured on one CPU thread and printed as markdown tables.

Four measurements, all with the Nature CNN of rat_atari_dmc_pixels.py (1.69M policy parameters on Atari):

  per-sample cost   milliseconds per sample to get a block's three products S_B S_Bᵀ, S_B w and S_Bᵀ Δ:
                    torch.func (the plain path, S_B materialized) against the per-layer factors (the fast path,
                    float32 and bfloat16 convolution rows), beside one batched forward-backward of the PPO loss
  transform/update  seconds of the advantage transform of one Breakout batch (8 envs × 128 steps) against one
                    `--transform none` PPO update of the same batch (4 epochs × 4 mini-batches)
  steps per second  short training runs at the scripts' defaults on ALE/Breakout-v5 and
                    dm_control/cartpole-swingup-v0, each in a process of its own: PPO (`--transform none`),
                    RAT, TRPO and natural actor-critic (trpo_atari_dmc_pixels.py, with and without line search),
                    with the mean seconds per iteration of each one's natural-gradient part (RAT's transform,
                    TRPO's CG and line search) and of its whole update
  peak memory       peak RSS of a fresh process that makes one RAT step on N = 8,192 samples: the factors, the
                    whole-batch Kaczmarz transform (b = 256, 3 sweeps) and the NPG step (`--update npg`)

The machine may be shared: wall-clock seconds then vary with its load, so each timing is also given in CPU
seconds of the measuring process (one thread: CPU seconds are the work done).

Usage:  python benchmark/pixel_cost.py                         (about 8 minutes on one core)
        python benchmark/pixel_cost.py --parts cost transform  (the first two tables, about a minute)
A run of some --parts replaces those sections of an existing --out file and keeps the others.
"""

import contextlib
import dataclasses
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root holds the RAT script

import gymnasium as gym
import torch
import tyro

import rat_atari_dmc_pixels as pixels
import trpo_atari_dmc_pixels as trpo_pixels

FAMILIES = {  # the observation and action spaces of the two benchmark tasks
    "ALE/Breakout-v5": ((4, 84, 84), gym.spaces.Discrete(4)),
    "dm_control/cartpole-swingup-v0": ((9, 84, 84), gym.spaces.Box(-1.0, 1.0, (1,))),
}
GIB = 2**30


@dataclass
class Args:
    parts: tuple[Literal["cost", "transform", "sps", "memory"], ...] = ("cost", "transform", "sps", "memory")
    """which tables to measure"""
    plain_block: int = 16
    """samples of the torch.func block (about 50 ms each)"""
    block: int = 256
    """samples of the factored block (the default --rat-block-size)"""
    sps_iterations: int = 2
    """training iterations of each steps-per-second run (8 × 128 agent steps each)"""
    memory_batch: int = 8192
    """N of the peak-memory step"""
    out: str = "benchmark/results/pixel_cost.md"
    """where the tables are written (they are printed too)"""


def random_batch(n: int, env_id: str = "ALE/Breakout-v5", seed: int = 0):
    """The Nature-CNN agent of env_id and n random frames, actions from its policy, returns and advantages."""
    torch.manual_seed(seed)
    obs_shape, action_space = FAMILIES[env_id]
    agent = pixels.Agent(obs_shape, action_space)
    obs = torch.randint(0, 256, (n, *obs_shape), dtype=torch.uint8)
    with torch.no_grad():
        dist = agent(obs)
        actions = dist.sample().float()
        log_probs = dist.log_prob(actions)
    adv = torch.randn(n)
    return agent, dict(obs=obs, actions=actions, log_probs=log_probs, returns=torch.randn(n), transformed_adv=adv), adv


@contextlib.contextmanager
def timer(into: dict, key: str):
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    into[key] = (time.perf_counter() - wall, time.process_time() - cpu)


def both(seconds: tuple, scale: float = 1.0, digits: int = 2) -> str:
    """Two table cells: wall-clock and CPU seconds (times scale)."""
    return f"{seconds[0] * scale:.{digits}f} | {seconds[1] * scale:.{digits}f}"


# ---------------------------------------------------------------------------- per-sample cost


def block_products(scores, w: torch.Tensor, delta: torch.Tensor):
    return scores @ scores.T, scores @ w, scores.T @ delta


def per_sample_cost(args: Args) -> str:
    agent, batch, adv = random_batch(args.block)
    w = torch.randn(sum(p.numel() for p in agent.policy_parameters().values()))
    times = {}
    plain = pixels.make_score_fn(agent, batch["obs"], batch["actions"])
    plain(torch.arange(2))  # torch.func traces on its first call
    plain_idx = torch.arange(args.plain_block)
    with timer(times, "plain"):
        plain_products = block_products(plain(plain_idx), w, adv[plain_idx])
    for dtype in (torch.float32, torch.bfloat16):
        pixels.FactoredScores.of_batch(agent, batch["obs"][:8], batch["actions"][:8], dtype)  # first-call set-up
        with timer(times, str(dtype)):
            factored = pixels.FactoredScores.of_batch(agent, batch["obs"], batch["actions"], dtype)
            block_products(factored(torch.arange(args.block)), w, adv)
        gram = factored(plain_idx) @ factored(plain_idx).T
        times[f"{dtype} error"] = ((gram - plain_products[0]).norm() / plain_products[0].norm()).item()
    args_none = pixels.with_family_defaults(pixels.Args(transform="none"))
    optimizer = torch.optim.Adam(agent.parameters(), lr=args_none.learning_rate, eps=1e-5)
    one_minibatch = [torch.arange(args.block)]
    pixels.minibatch_updates(agent, optimizer, batch, one_minibatch, dataclasses.replace(args_none, update_epochs=1))
    with timer(times, "batched"):
        pixels.minibatch_updates(agent, optimizer, batch, one_minibatch, dataclasses.replace(args_none, update_epochs=1))
    rows = [
        ("one batched forward + backward of the PPO loss (no per-sample anything)", times["batched"], args.block, "–"),
        (f"torch.func vmap(grad): S_B materialized, then the products (b = {args.plain_block})", times["plain"], args.plain_block, "reference"),
        (f"per-layer factors, float32 convolution rows: factor pass + products (b = {args.block})", times["torch.float32"],
         args.block, f"{times['torch.float32 error']:.1e}"),
        (f"per-layer factors, bfloat16 convolution rows (the default) (b = {args.block})", times["torch.bfloat16"],
         args.block, f"{times['torch.bfloat16 error']:.1e}"),
    ]
    lines = ["| how a block's S_B S_Bᵀ, S_B w, S_Bᵀ Δ are obtained | ms per sample (wall) | ms per sample (CPU) | Gram rel. error |",
             "|---|---:|---:|---:|"]
    lines += [f"| {name} | {both(seconds, 1e3 / n, 1)} | {error} |" for name, seconds, n, error in rows]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- transform against update


def transform_against_update(args: Args) -> str:
    lines = ["One batch at the script's defaults (8 envs × 128 steps, random frames); the yardstick is one "
             "`--transform none` PPO update of it (4 epochs × 4 mini-batches).\n",
             "| env | step | seconds (wall) | seconds (CPU) | × update (CPU) |", "|---|---|---:|---:|---:|"]
    for env_id in FAMILIES:
        defaults = pixels.with_family_defaults(pixels.Args(env_id=env_id, cuda=False))
        batch_size = defaults.num_envs * defaults.num_steps
        agent, batch, adv = random_batch(batch_size, env_id)
        minibatches = torch.randperm(batch_size).split(batch_size // defaults.num_minibatches)
        variants = {
            "RAT, one exact solve per mini-batch, bfloat16 rows (the default)": defaults,
            "RAT, one exact solve per mini-batch, float32 rows": dataclasses.replace(defaults, rat_conv_dtype="float32"),
            f"RAT, whole batch, {defaults.rat_sweeps} sweeps of b = {defaults.rat_block_size} (as with --update npg)":
                dataclasses.replace(defaults, rat_per_minibatch=False),
        }
        small_agent, small_batch, small_adv = random_batch(64, env_id)
        pixels.transform_advantages(small_agent, small_batch, small_adv, [torch.arange(64)], defaults)  # first-call set-up
        times = {}
        for name, variant in variants.items():
            with timer(times, name):
                pixels.transform_advantages(agent, batch, adv, minibatches, variant)
        ppo = dataclasses.replace(defaults, transform="none")
        optimizer = torch.optim.Adam(agent.parameters(), lr=ppo.learning_rate, eps=1e-5)
        with timer(times, "update"):
            pixels.minibatch_updates(agent, optimizer, batch, minibatches, ppo)
        lines.append(f"| {env_id} | PPO update, `--transform none` | {both(times['update'])} | 1.00 |")
        lines += [f"| {env_id} | {name} | {both(times[name])} | {times[name][1] / times['update'][1]:.2f} |" for name in variants]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- steps per second, each run in its own process


def in_fresh_process(function, *function_args, context: str = "fork"):
    """function(*function_args) in a child process (forked, or a fresh interpreter with "spawn"), its stdout discarded."""
    receiver, sender = multiprocessing.Pipe(duplex=False)
    process = multiprocessing.get_context(context).Process(target=send_result, args=(sender, function, function_args))
    process.start()
    sender.close()
    try:
        result = receiver.recv()
    except EOFError:  # the child died before sending
        result = dict(failed=f"exit code {process.exitcode}")
    process.join()
    return result


def send_result(sender, function, function_args) -> None:
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        sender.send(function(*function_args))


SPS_METHODS = {  # name → (script module, flags, the scalar its natural-gradient part logs)
    "PPO": (pixels, dict(transform="none"), None),
    "RAT": (pixels, dict(transform="rat"), "time/transform_seconds"),
    "TRPO": (trpo_pixels, dict(), "time/policy_step_seconds"),
    "NAC": (trpo_pixels, dict(line_search=False), "time/policy_step_seconds"),
}


def mean_scalar(run_dir: str, tag: Optional[str]) -> float:
    if tag is None:
        return float("nan")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(run_dir)
    events.Reload()
    values = [event.value for event in events.Scalars(tag)]
    return sum(values) / len(values)


def training_run(env_id: str, method: str, iterations: int) -> dict:
    module, flags, natural_tag = SPS_METHODS[method]
    defaults = module.with_family_defaults(module.Args(env_id=env_id))
    steps = iterations * defaults.num_envs * defaults.num_steps
    args = dataclasses.replace(defaults, total_timesteps=steps, cuda=False, exp_name="pixel_cost", **flags)
    times = {}
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)  # the run's TensorBoard files go to a throw-away folder
        with timer(times, "run"):
            summary = module.train(args)
        run_dir = os.path.join(tmp, "runs", summary["run_name"])
        natural, update = mean_scalar(run_dir, natural_tag), mean_scalar(run_dir, "time/update_seconds")
    returns = summary["episode_returns"]
    return dict(steps=steps, wall=times["run"][0], cpu=times["run"][1], episodes=len(returns), natural=natural, update=update,
                mean_return=sum(returns) / len(returns) if returns else float("nan"))


def steps_per_second(args: Args) -> str:
    lines = [f"Runs of {args.sps_iterations} iterations at the scripts' defaults (8 envs × 128 steps), seed 1; SPS over the whole "
             "run, environment creation included. Natural-gradient part: RAT's transform, TRPO's CG and line search; "
             "update: the whole update of the iteration, critic included (seconds wall, mean over iterations).\n",
             "| env | method | agent steps | SPS (wall) | SPS (CPU) | ÷ PPO (CPU) | natural-gradient part, s | update, s | episodes | mean return |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for env_id in ("ALE/Breakout-v5", "dm_control/cartpole-swingup-v0"):
        runs = {method: in_fresh_process(training_run, env_id, method, args.sps_iterations) for method in SPS_METHODS}
        for method, run in runs.items():
            if "failed" in run:
                lines.append(f"| {env_id} | {method} | – | failed ({run['failed']}) | | | | | | |")
                continue
            ratio = (run["steps"] / run["cpu"]) / (runs["PPO"]["steps"] / runs["PPO"]["cpu"]) if "cpu" in runs["PPO"] else float("nan")
            natural = "–" if run["natural"] != run["natural"] else f"{run['natural']:.2f}"
            lines.append(f"| {env_id} | {method} | {run['steps']} | {run['steps'] / run['wall']:.0f} | {run['steps'] / run['cpu']:.0f} | "
                         f"{ratio:.2f} | {natural} | {run['update']:.2f} | {run['episodes']} | {run['mean_return']:.1f} |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- peak memory of one step on N = 8192


def peak_rss_bytes() -> int:
    """The peak resident memory of this process image: VmHWM on Linux (getrusage's max RSS would include the RSS
    of the parent that forked it before exec), getrusage elsewhere."""
    with contextlib.suppress(OSError):
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)


def one_rat_step(n: int) -> dict:
    """Factors, whole-batch transform and NPG step on n samples; the peak RSS of this (spawned, fresh) process."""
    torch.set_num_threads(1)
    baseline = peak_rss_bytes()
    agent, batch, adv = random_batch(n)
    defaults = pixels.with_family_defaults(pixels.Args(update="npg"))
    times = {}
    with timer(times, "transform"):
        transformed_adv = pixels.transform_advantages(agent, batch, adv, [], defaults)
    after_transform = peak_rss_bytes()
    with timer(times, "npg"):
        pixels.npg_step(agent, batch["obs"], batch["actions"], adv, transformed_adv, defaults.target_kl, line_search=False)
    return dict(baseline=baseline, after_transform=after_transform, peak=peak_rss_bytes(), **times)


def peak_memory(args: Args) -> str:
    result = in_fresh_process(one_rat_step, args.memory_batch, context="spawn")
    if "failed" in result:
        return f"The {args.memory_batch}-sample step failed ({result['failed']})."
    d = sum(p.numel() for p in pixels.Agent(*FAMILIES["ALE/Breakout-v5"]).policy_parameters().values())
    dense_bytes = 4 * args.memory_batch * d + 8 * args.memory_batch**2
    return "\n".join([
        f"One RAT step on N = {args.memory_batch} Breakout frames (d = {d:,} policy parameters), in a fresh process.\n",
        "| quantity | value |", "|---|---:|",
        f"| peak RSS of the process, the whole step | {result['peak'] / GIB:.2f} GiB |",
        f"| peak RSS after the factors and the transform | {result['after_transform'] / GIB:.2f} GiB |",
        f"| peak RSS before the batch and the step (Python, torch, gymnasium) | {result['baseline'] / GIB:.2f} GiB |",
        f"| factors + transform (b = 256, 3 sweeps), seconds wall / CPU | {result['transform'][0]:.1f} / {result['transform'][1]:.1f} |",
        f"| NPG step (direction, Fisher quadratic by jvp), seconds wall / CPU | {result['npg'][0]:.1f} / {result['npg'][1]:.1f} |",
        f"| dense Woodbury would hold S and SSᵀ: N·d + N² floats | {dense_bytes / GIB:.0f} GiB |",
    ])


def main(args: Args) -> None:
    torch.set_num_threads(1)
    sections = {"cost": ("Per-sample cost of a block's products", per_sample_cost),
                "transform": ("The transform against a PPO update", transform_against_update),
                "sps": ("Steps per second and seconds per policy step: PPO, RAT, TRPO, natural actor-critic", steps_per_second),
                "memory": ("Peak memory of one RAT step", peak_memory)}
    header = f"torch {torch.__version__}, one thread, {os.cpu_count()} CPU cores (maybe shared), the pixel scripts' defaults.\n"
    out = Path(args.out)
    kept = {}  # title → section, from an earlier run of the parts not measured now
    if out.exists():
        kept = {chunk.split("\n", 1)[0]: "### " + chunk for chunk in out.read_text().split("\n### ")[1:]}
    tables = [header]
    for part, (title, measure) in sections.items():
        if part in args.parts:
            print(f"measuring: {title} …", file=sys.stderr, flush=True)
            tables.append(f"### {title}\n\n{measure(args)}\n")
        elif title in kept:
            tables.append(kept[title].rstrip("\n") + "\n")
    text = "\n".join(tables)
    print(text)
    out.parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main(tyro.cli(Args))
