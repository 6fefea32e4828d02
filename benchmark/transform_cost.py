"""What the advantage transform costs: RAT against the dense solves and CG, and against a PPO update.

Every method computes the same natural gradient g_λ = (SᵀS/N + λI)⁻¹ SᵀA/N for the Gaussian policy
of rat_continuous_action.py (its Actor, the mean MLP widened to two tanh layers of width h;
HalfCheetah's 17 observations and 6 actions, so d = h² + 25h + 12 parameters) on a synthetic batch
of N samples whose advantages depend on the actions, as in RL:

  RAT             rat_transform (block Kaczmarz, blocks of b samples, K sweeps), then g = ∇θ mean(Ã · log πθ);
                  each block's scores S_B (b × d) come from make_score_fn (torch.func vmap of grad),
                  as in training with --no-rat-factored
  RAT factored    the same solve with S_B's products from FactoredScores (per-layer factors of one batched
                  backward), as in training by default
  dense Woodbury  S (N × d) materialized, Ã = (SSᵀ/N + λI)⁻¹ A by Cholesky (dense_transform), then g as above
  dense Fisher    S materialized, g = (SᵀS/N + λI)⁻¹ SᵀA/N by Cholesky of the d × d matrix
  CG              conjugate gradient on v ↦ Sᵀ(Sv)/N + λv, matrix-free: one jvp and one vjp through
                  the batch per iteration, the price of TRPO's Fisher-vector product
  PPO update      the yardstick: 10 epochs × 32 mini-batches of Adam on the actor's clipped surrogate

The table's columns:
  rel. error   ‖g − g_ref‖ / ‖g_ref‖, g_ref the dense Woodbury solve (the dense Fisher one where only
               it fits); "–" where neither fits
  seconds      wall-clock from the batch to g, one thread
  × PPO        seconds / seconds of the PPO update of the same N and h
  peak MiB     how far the method raised the peak resident memory (getrusage max RSS) of a process
               forked for this measurement alone, holding the policy and the batch
  model MiB    the memory model; a method it puts over --max-gib is skipped, "out of memory budget":
               where the rows say so, that method stops being possible on such a machine

Usage:  python benchmark/transform_cost.py            (about 5 minutes on one core)
        python benchmark/transform_cost.py --quick    (under 30 s)
"""

import dataclasses
import functools
import math
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root holds the RAT script

import torch
import torch.nn as nn
import tyro
from torch.nn.utils import clip_grad_norm_

from rat_continuous_action import Actor, FactoredScores, dense_transform, gaussian_log_prob, layer_init, make_score_fn, rat_transform, score_product

OBS_DIM, ACT_DIM = 17, 6  # HalfCheetah-v5
GIB = 2**30


@dataclass
class Args:
    batch_sizes: tuple[int, ...] = (1024, 2048, 4096, 8192)
    """batch sizes N, measured at the smallest width"""
    widths: tuple[int, ...] = (64, 256, 1024, 2048)
    """hidden widths h of the actor, measured at N = --base-batch"""
    base_batch: int = 2048
    """N at which the widths are measured"""
    lam: float = 0.1
    """Tikhonov damping λ"""
    block_size: int = 256
    """RAT's block size b"""
    sweeps: tuple[int, ...] = (1, 3)
    """RAT's sweeps K: one row each"""
    cg_iterations: int = 10
    """conjugate-gradient iterations"""
    max_gib: float = 8.0
    """skip a method whose memory model says it needs more than this many GiB"""
    threads: int = 1
    """torch threads of each measurement"""
    quick: bool = False
    """if toggled, N ∈ {256, 1024} and h ∈ {64, 256}, RAT with 3 sweeps only: under 30 s"""
    out: str = "benchmark/results/transform_cost.md"
    """where the markdown table is written (it is printed too)"""


def num_params(width: int) -> int:
    return (OBS_DIM + 1) * width + (width + 1) * width + (width + 1) * ACT_DIM + ACT_DIM


def make_problem(batch: int, width: int):
    """The actor at width h and a batch: states ~ N(0, I), actions from the policy, A = −‖a − a*‖² normalized."""
    torch.manual_seed(0)
    actor = Actor(OBS_DIM, ACT_DIM)
    actor.mean = nn.Sequential(
        layer_init(nn.Linear(OBS_DIM, width)), nn.Tanh(),
        layer_init(nn.Linear(width, width)), nn.Tanh(),
        layer_init(nn.Linear(width, ACT_DIM), std=0.01),
    )
    obs = torch.randn(batch, OBS_DIM)
    with torch.no_grad():
        mean, log_std = actor(obs)
        actions = mean + log_std.exp() * torch.randn_like(mean)
    advantages = -(actions - 0.5 * torch.randn(ACT_DIM)).pow(2).sum(-1)
    return actor, obs, actions, (advantages - advantages.mean()) / advantages.std()


# ---------------------------------------------------------------------------- the methods, each batch → g


def flat_grad(output: torch.Tensor, actor: Actor, grad_output=None) -> torch.Tensor:
    return torch.cat([g.reshape(-1) for g in torch.autograd.grad(output, list(actor.parameters()), grad_output, retain_graph=True)])


def natural_gradient(actor, obs, actions, transformed_adv) -> torch.Tensor:
    """g = ∇θ mean(Ã · log πθ(a|s)) = SᵀÃ/N, by one backward pass (direct backpropagation)."""
    return flat_grad((transformed_adv * gaussian_log_prob(*actor(obs), actions)).mean(), actor)


def rat_gradient(actor, obs, actions, advantages, args: Args, sweeps: int, factored: bool = False) -> torch.Tensor:
    score_fn = (FactoredScores.of_batch if factored else make_score_fn)(actor, obs, actions)
    transformed_adv = rat_transform(score_fn, advantages, args.lam, args.block_size, sweeps, torch.Generator().manual_seed(0))
    return natural_gradient(actor, obs, actions, transformed_adv)


def woodbury_gradient(actor, obs, actions, advantages, args: Args) -> torch.Tensor:
    scores = make_score_fn(actor, obs, actions)(torch.arange(len(advantages)))  # (N, d)
    return natural_gradient(actor, obs, actions, dense_transform(scores, advantages, args.lam))


def fisher_gradient(actor, obs, actions, advantages, args: Args) -> torch.Tensor:
    """g = (SᵀS/N + λI)⁻¹ SᵀA/N, the d × d system in float64."""
    n = len(advantages)
    scores = make_score_fn(actor, obs, actions)(torch.arange(n))  # (N, d)
    fisher = (scores.T @ scores).double().div_(n)  # (d, d), in place: d² floats are the limit here
    fisher.diagonal().add_(args.lam)
    vanilla_gradient = (scores.T @ advantages).double() / n  # (d,)
    return torch.cholesky_solve(vanilla_gradient[:, None], torch.linalg.cholesky(fisher))[:, 0].float()


def cg_gradient(actor, obs, actions, advantages, args: Args) -> torch.Tensor:
    """Conjugate gradient on (SᵀS/N + λI) g = SᵀA/N from g = 0; Sv by a jvp, Sᵀu by a vjp of the batch's log π."""
    n, params = len(advantages), list(actor.parameters())
    log_prob = gaussian_log_prob(*actor(obs), actions)  # (N,)

    def fisher_product(v):
        direction = [chunk.view_as(p) for chunk, p in zip(v.split([p.numel() for p in params]), params)]
        return flat_grad(log_prob, actor, score_product(actor, obs, actions, direction) / n) + args.lam * v

    vanilla_gradient = flat_grad(log_prob, actor, advantages / n)
    solution, residual = torch.zeros_like(vanilla_gradient), vanilla_gradient.clone()
    direction, residual_norm = residual.clone(), residual @ residual
    for _ in range(args.cg_iterations):
        product = fisher_product(direction)
        step = residual_norm / (direction @ product)
        solution += step * direction
        residual -= step * product
        residual_norm, previous_norm = residual @ residual, residual_norm
        direction = residual + (residual_norm / previous_norm) * direction
    return solution


def ppo_update(actor, obs, actions, advantages, args: Args, epochs: int = 10, minibatches: int = 32) -> None:
    """The actor's half of a PPO update as rat_continuous_action.py --update ppo does it (lr 3e-4, clip 0.2); no g."""
    with torch.no_grad():
        old_log_prob = gaussian_log_prob(*actor(obs), actions)
    optimizer = torch.optim.Adam(actor.parameters(), lr=3e-4, eps=1e-5)
    for _ in range(epochs):
        for mb in torch.randperm(len(advantages)).split(len(advantages) // minibatches):
            ratio = (gaussian_log_prob(*actor(obs[mb]), actions[mb]) - old_log_prob[mb]).exp()
            loss = -torch.min(ratio * advantages[mb], ratio.clamp(0.8, 1.2) * advantages[mb]).mean()
            optimizer.zero_grad()
            loss.backward()
            clip_grad_norm_(actor.parameters(), 0.5)
            optimizer.step()


def memory_model(method: str, n: int, width: int, args: Args) -> float:
    """Bytes a method adds beyond the policy and the batch: float32 scores, float64 solves, activations ~12 per unit.

    Checked against the measured peaks: within a few % wherever the scores or the d × d matrices dominate."""
    d, b = num_params(width), min(args.block_size, n)
    activations = 4 * 12 * n * width
    return {
        "dense Woodbury": max(8 * n * d, 4 * n * d + 24 * n**2) + activations,  # S twice while concatenated; SSᵀ in float64
        "dense Fisher": max(8 * n * d, 4 * n * d + 24 * d**2) + activations,  # SᵀS/N + λI, its Cholesky factor, a copy of it
        # a block's per-layer grads and their concatenation, while the previous block's scores are still held
        "RAT": (8 if b == n else 12) * b * d + 16 * d + activations,
        # X and G of every Linear layer and the log σ rows (4h + 29 floats a sample), a block's copy of them, its Gram
        "RAT factored": 4 * (n + b) * (4 * width + 29) + 24 * b**2 + 16 * d + activations,
        "CG": 32 * d + 2 * activations,  # a handful of d-vectors; the jvp's tangents double the activations
        "PPO update": 16 * d + activations // 32,  # gradients and Adam's two moments
    }[method.split(",")[0]]


# ---------------------------------------------------------------------------- one measurement, in a fresh process


def max_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)


def measure(method: str, solver, n: int, width: int, args: Args, reference_path: str) -> dict:
    """Time and peak memory of one method; saves its g as the reference if it is the first exact solve of (N, h)."""
    problem = make_problem(n, width)
    rss_before, started = max_rss_bytes(), time.perf_counter()
    gradient = solver(*problem, args)
    seconds, peak = time.perf_counter() - started, max_rss_bytes() - rss_before
    error = float("nan")
    if gradient is not None and os.path.exists(reference_path):
        reference = torch.load(reference_path)
        error = ((gradient - reference).norm() / reference.norm()).item()
    elif method.startswith("dense"):
        torch.save(gradient, reference_path)
    return dict(seconds=seconds, peak=peak, error=error)


def measure_in_fresh_process(*measure_args) -> dict:
    """Run `measure` in a child forked from this process, so that its peak memory is its own."""
    receiver, sender = multiprocessing.Pipe(duplex=False)
    child = multiprocessing.get_context("fork").Process(target=lambda: sender.send(measure(*measure_args)))
    child.start()
    sender.close()
    try:
        result = receiver.recv()
    except EOFError:  # the child died before sending
        result = None
    child.join()
    if result is None:
        return dict(skipped="killed (out of memory?)" if child.exitcode < 0 else f"failed (exit code {child.exitcode})")
    return result


# ---------------------------------------------------------------------------- the table


def gib_text(num_bytes: float) -> str:
    gib = num_bytes / GIB
    return f"{gib:.1f}" if gib < 10 else f"{gib:,.0f}"


def main(args: Args) -> None:
    if args.quick:
        args = dataclasses.replace(args, batch_sizes=(256, 1024), widths=(64, 256), base_batch=1024, sweeps=(3,))
    configs = sorted({(n, min(args.widths)) for n in args.batch_sizes} | {(args.base_batch, w) for w in args.widths})
    methods = {
        "dense Woodbury": woodbury_gradient,
        "dense Fisher": fisher_gradient,
        **{f"RAT, {k} sweep{'s' * (k > 1)}": functools.partial(rat_gradient, sweeps=k) for k in args.sweeps},
        **{f"RAT factored, {k} sweep{'s' * (k > 1)}": functools.partial(rat_gradient, sweeps=k, factored=True) for k in args.sweeps},
        "CG": cg_gradient,
        "PPO update": ppo_update,
    }
    # Every measurement runs in a process forked from this one; torch's lazy imports and first-call set-up
    # (seconds) are paid here once, on a tiny problem, instead of inside each measurement.
    torch.set_num_threads(args.threads)
    for solver in methods.values():
        solver(*make_problem(64, 8), args)

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, width in configs:
            reference_path = os.path.join(tmp, f"g_{n}_{width}.pt")
            results = {}
            for method, solver in methods.items():
                needed = memory_model(method, n, width, args)
                if needed > args.max_gib * GIB:
                    results[method] = dict(skipped=f"out of memory budget (needs {gib_text(needed)} GiB)", model=needed)
                else:
                    results[method] = dict(measure_in_fresh_process(method, solver, n, width, args, reference_path), model=needed)
                outcome = results[method].get("skipped") or f"{results[method]['seconds']:.2f} s"
                print(f"N {n:>5}  h {width:>5}  {method:<16} {outcome}", file=sys.stderr, flush=True)
            rows += [(n, width, method, results[method], results["PPO update"].get("seconds")) for method in methods]

    lines = [
        f"Natural gradient g_λ = (SᵀS/N + λI)⁻¹ SᵀA/N for the Actor of rat_continuous_action.py at hidden width h "
        f"(d parameters), λ = {args.lam}, RAT blocks of {args.block_size}, CG {args.cg_iterations} iterations, "
        f"{args.threads} thread(s), torch {torch.__version__}, memory budget {args.max_gib} GiB. "
        "See benchmark/transform_cost.py for what each column means.\n",
        "| N | h | d | method | rel. error | seconds | × PPO | peak MiB | model MiB |",
        "|---:|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for n, width, method, result, ppo_seconds in rows:
        model = f"{result['model'] / 2**20:,.0f}"
        if "skipped" in result:
            lines.append(f"| {n} | {width} | {num_params(width):,} | {method} | – | {result['skipped']} | – | – | {model} |")
            continue
        error = "–" if math.isnan(result["error"]) else f"{result['error']:.1e}"
        ratio = f"{result['seconds'] / ppo_seconds:.2f}" if ppo_seconds else "–"
        lines.append(f"| {n} | {width} | {num_params(width):,} | {method} | {error} | {result['seconds']:.2f} | {ratio} | "
                     f"{result['peak'] / 2**20:,.0f} | {model} |")
    table = "\n".join(lines) + "\n"
    print(table)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(table)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main(tyro.cli(Args))
