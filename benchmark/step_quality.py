"""Does a natural step improve the policy beyond the batch it was computed on? In-sample against held-out gain.

A step computed from one batch improves that batch's surrogate mean(ρA) by construction; what training
needs is the improvement on fresh data from the same policy, E[ρA] − E[A] ≈ the change of the expected
return (the policy-improvement lemma, to first order). Ã = (SSᵀ/N + λI)⁻¹A is fitted to the batch's own
noisy advantages — as λ → 0 the step changes each sample's log-probability in proportion to its Â
(Sĝ = A − λÃ) — so λ trades the fit to this batch against how far the step carries to others.

From a checkpoint of rat_continuous_action.py this script collects --train-batches batches and
--heldout-batches more with the checkpoint's policy (normalization frozen, rewards scaled by the
checkpoint's statistics, the value bootstrapped at time limits, advantages normalized, as in training),
and for every candidate transform takes one npg_step (δ = --target-kl, with the line search) from each
training batch, then measures on the same step:

  in-sample   mean(ρA) − mean(A) on the training batch (what the line search accepts)
  held-out    mean(ρA) − mean(A) over all held-out batches (fresh samples of the same policy)
  vs first    held-out gain minus the first candidate's from the same training batch: mean ± standard
              error over the training batches (the held-out samples are shared, so most of their noise cancels)
  kl          KL of the accepted step on the training batch (the mean over its states)
  max KL / KL the KL of the state the step moved most, as a multiple of that mean

Usage:
    python benchmark/step_quality.py --checkpoint benchmark/work/rat-2-steps__Walker2d-v5__s2__1M/runs/*/checkpoint.pt
    python benchmark/step_quality.py --checkpoint PATH --lambdas 0.1 1 10 --train-batches 8
"""

import copy
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root holds the RAT script

import numpy as np
import torch
import tyro

import rat_continuous_action as rat


@dataclass
class Args:
    checkpoint: str
    """checkpoint of rat_continuous_action.py whose policy is measured"""
    lambdas: tuple[float, ...] = (0.1, 0.3, 1.0, 3.0)
    """λ of each RAT candidate (3 sweeps of blocks of 256, the script's defaults); the first is the reference of 'vs first'"""
    dense: bool = True
    """if toggled, also the exact Woodbury solve at the first λ"""
    train_batches: int = 8
    """batches a step is computed from, one step each"""
    heldout_batches: int = 12
    """fresh batches each step is measured on"""
    batch_size: int = 2048
    """environment steps per batch"""
    target_kl: float = 0.01
    """δ of every step"""
    seed: int = 0
    """seed of the environment resets, the actions and the Kaczmarz partitions"""
    out: str = "benchmark/results/step_quality.md"
    """markdown file the table is appended to"""


def collect(agent: rat.Agent, env, reward_scale: float, gamma: float, batch_size: int, seed: int):
    """One batch of the agent's policy: normalized observations (N, obs), actions (N, act), normalized GAE advantages (N,)."""
    observations, actions, rewards, dones, values = [], [], [], [], []
    raw_obs, _ = env.reset(seed=seed)
    for _ in range(batch_size):
        obs = agent.obs_normalizer(torch.as_tensor(raw_obs)[None])
        with torch.no_grad():
            mean, log_std = agent.actor(obs)
            action = mean + log_std.exp() * torch.randn_like(mean)
            value = agent.value(obs)[0]
        raw_obs, reward, terminated, truncated, _ = env.step(action[0].numpy())
        reward = float(np.clip(reward * reward_scale, -10, 10))
        if truncated and not terminated:  # a time limit is no terminal state
            with torch.no_grad():
                reward += gamma * agent.value(agent.obs_normalizer(torch.as_tensor(raw_obs)[None]))[0].item()
        observations.append(obs[0])
        actions.append(action[0])
        rewards.append(reward)
        dones.append(float(terminated or truncated))
        values.append(value)
        if terminated or truncated:
            raw_obs, _ = env.reset()
    with torch.no_grad():
        next_value = agent.value(agent.obs_normalizer(torch.as_tensor(raw_obs)[None]))
    advantages, _ = rat.compute_gae(torch.tensor(rewards)[:, None], torch.stack(values)[:, None], torch.tensor(dones)[:, None],
                                    next_value, gamma, 0.95)
    advantages = advantages[:, 0]
    return torch.stack(observations), torch.stack(actions), (advantages - advantages.mean()) / (advantages.std() + 1e-8)


def surrogate_gain(old_actor, new_actor, batches) -> float:
    """mean(ρA) − mean(A) over the batches, ρ = π_new(a|s) / π_old(a|s)."""
    gains = []
    with torch.no_grad():
        for obs, actions, advantages in batches:
            log_ratio = rat.gaussian_log_prob(*new_actor(obs), actions) - rat.gaussian_log_prob(*old_actor(obs), actions)
            gains.append((log_ratio.exp() * advantages).mean().item() - advantages.mean().item())
    return float(np.mean(gains))


def main(args: Args) -> None:
    if not args.lambdas or min(args.lambdas) <= 0:
        sys.exit(f"error: --lambdas needs at least one λ, each > 0 (got {args.lambdas}).")
    if args.train_batches < 2 or args.heldout_batches < 1 or args.batch_size < 2:
        sys.exit("error: --train-batches must be ≥ 2 (for a standard error), --heldout-batches ≥ 1 and --batch-size ≥ 2.")
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    checkpoint = rat.load_checkpoint(args.checkpoint)
    env_id, run_args = checkpoint["env_id"], checkpoint["args"]
    gamma = run_args["gamma"]
    if run_args.get("final_gamma") is not None:  # the γ of the iteration after the checkpoint (--final-gamma)
        remaining = 1 - checkpoint["global_step"] / run_args["total_timesteps"]
        gamma = run_args["final_gamma"] + remaining * (gamma - run_args["final_gamma"])
    env = rat.make_env(env_id)()
    agent = rat.Agent(env.observation_space.shape[0], env.action_space.shape[0])
    agent.load_state_dict(checkpoint["agent"])
    reward_scale = 1 / float(np.sqrt(checkpoint["return_rms"]["var"].item() + 1e-8))  # as NormalizeReward divides
    train = [collect(agent, env, reward_scale, gamma, args.batch_size, args.seed + k) for k in range(args.train_batches)]
    heldout = [collect(agent, env, reward_scale, gamma, args.batch_size, args.seed + 10_000 + k) for k in range(args.heldout_batches)]

    candidates = [(f"RAT λ = {lam:g}", "rat", lam) for lam in args.lambdas]
    candidates += [(f"dense λ = {args.lambdas[0]:g}", "dense", args.lambdas[0])] if args.dense else []
    candidates += [("none (vanilla gradient, KL-sized)", "none", args.lambdas[0])]
    results = {name: [] for name, _, _ in candidates}  # per training batch: (in-sample, held-out, kl)
    for k, (obs, actions, advantages) in enumerate(train):
        for name, transform, lam in candidates:
            step_args = rat.Args(transform=transform, rat_lambda=lam)
            torch.manual_seed(args.seed + k)  # the same Kaczmarz partitions for every λ
            transformed_adv = rat.transform_advantages(agent.actor, obs, actions, advantages, step_args)
            actor = copy.deepcopy(agent.actor)
            stats = rat.npg_step(actor, obs, actions, advantages, transformed_adv, args.target_kl, line_search=True)
            results[name].append((stats["improvement"], surrogate_gain(agent.actor, actor, heldout), stats["kl"], stats["max_kl"]))

    reference = np.array(results[candidates[0][0]])[:, 1]
    lines = [f"\n{env_id}, step {checkpoint['global_step']} of `{args.checkpoint}`; {args.train_batches} training and "
             f"{args.heldout_batches} held-out batches of {args.batch_size}, δ = {args.target_kl}, log σ = "
             f"{[round(x, 2) for x in agent.actor.log_std.tolist()]}\n",
             "| step | in-sample gain | held-out gain | held-out vs first (± s.e.) | KL | max KL / KL |", "|---|---|---|---|---|---|"]
    for name, rows in results.items():
        rows = np.array(rows)
        difference = rows[:, 1] - reference
        lines.append(f"| {name} | {rows[:, 0].mean():.4f} | {rows[:, 1].mean():.5f} | "
                     f"{difference.mean():+.5f} ± {difference.std(ddof=1) / np.sqrt(len(difference)):.5f} | {rows[:, 2].mean():.4f} | "
                     f"{np.mean(rows[:, 3] / np.maximum(rows[:, 2], 1e-12)):.1f} |")
    print("\n".join(lines))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    if not Path(args.out).exists():
        Path(args.out).write_text("# Held-out gain of one natural step (benchmark/step_quality.py)\n\n"
                                  "Gains are mean(ρA) − mean(A) with normalized advantages; one section per measured checkpoint.\n")
    with open(args.out, "a") as f:
        f.write("\n".join(lines) + "\n")
    print(f"appended to {args.out}")


if __name__ == "__main__":
    try:
        main(tyro.cli(Args))
    except FloatingPointError as error:  # a diverging solve: say what to change, not a traceback
        sys.exit(f"error: {error}")
