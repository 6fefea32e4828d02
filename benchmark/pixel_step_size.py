"""How far one update of rat_atari_dmc_pixels.py moves the policy: RAT's Ã against PPO's A, on the same batches.

The pixel grid's RAT runs logged a policy/kl several times smaller than PPO's (benchmark/results/pixels/scalars.md),
with the same update otherwise: 4 epochs of clipped Adam over 4 mini-batches, Ã rescaled to A's unit RMS. This
script measures that on identical footing. From a checkpoint of the pixel script it collects --batches batches of
the checkpoint's policy (its 8 envs × 128 steps, rewards scaled by the checkpoint's frozen statistics, the value
bootstrapped at time limits, advantages normalized, as in training) and one held-out batch more. For each batch
and each candidate (PPO: A itself; RAT at each λ: the script's per-mini-batch Ã) it copies the agent and the
checkpoint's Adam state, draws the same mini-batch partition and epoch order, applies the script's own
`minibatch_updates` at the un-annealed --learning-rate, and measures:

  kl             KL(π_old ‖ π_new) over the batch, from the two policies' distributions; also as a ratio to PPO's
                 KL on the same batch (the mean of those paired ratios, not the ratio of the mean KLs)
  gain           mean(ρA) − mean(A) on the batch the update was computed on
  held-out gain  the same on the held-out batch (fresh samples of the same policy)
  ‖Δθ‖           how far the policy's parameters moved (encoder, shared with the critic, included)

Usage:
    python benchmark/pixel_step_size.py --checkpoint benchmark/work/rat__dm_control_cartpole-swingup-v0__s2__100k/runs/*/checkpoint.pt
    python benchmark/pixel_step_size.py --checkpoint PATH --lambdas 0.1 1 10 --batches 4
"""

import copy
import dataclasses
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root holds the pixel script

import numpy as np
import torch
import tyro
from torch.nn.utils import parameters_to_vector

import rat_atari_dmc_pixels as pixels


@dataclass
class Args:
    checkpoint: str
    """checkpoint of rat_atari_dmc_pixels.py (written with --update ppo) whose policy is measured"""
    lambdas: tuple[float, ...] = (0.1, 1.0, 10.0)
    """λ of each RAT candidate (the script's per-mini-batch solve); λ → ∞ tends to PPO's A, rescaled per mini-batch"""
    batches: int = 4
    """batches an update is computed from, one update each"""
    seed: int = 0
    """seed of the environment resets, the actions and the mini-batch partitions"""
    out: str = "benchmark/results/pixel_step_size.md"
    """markdown file the table is appended to"""


def collect(agent: pixels.Agent, envs, reward_scaler, train_args: pixels.Args, seed: int) -> tuple[dict, torch.Tensor]:
    """One batch of the agent's policy as `train` builds it, and its normalized advantages A."""
    steps, n = train_args.num_steps, train_args.num_envs
    obs_shape, action_shape = envs.single_observation_space.shape, envs.single_action_space.shape
    obs = torch.zeros((steps, n, *obs_shape), dtype=torch.uint8)
    actions = torch.zeros((steps, n, *action_shape))
    log_probs, rewards, dones, values = (torch.zeros((steps, n)) for _ in range(4))
    raw_obs, info = envs.reset(seed=seed)
    next_obs, lives = torch.as_tensor(raw_obs), info.get("lives")
    for step in range(steps):
        obs[step] = next_obs
        with torch.no_grad():
            dist, values[step] = agent.policy_and_value(next_obs)
            action = dist.sample()
            log_probs[step] = dist.log_prob(action)
        actions[step] = action
        raw_obs, reward, terminated, truncated, info = envs.step(action.numpy())
        next_obs = torch.as_tensor(raw_obs)
        if lives is not None:  # Atari: a lost life ends the learner's episode
            terminated, lives = terminated | (info["lives"] < lives), info["lives"]
        reward = torch.as_tensor(reward, dtype=torch.float32)
        for i in np.flatnonzero(truncated & ~terminated):  # a time limit is no terminal state
            with torch.no_grad():
                reward[i] += train_args.gamma * agent.value(torch.as_tensor(info["final_obs"][i])[None])[0]
        rewards[step], dones[step] = reward, torch.as_tensor(terminated | truncated, dtype=torch.float32)
    with torch.no_grad():
        advantages, returns = pixels.compute_gae(rewards, values, dones, agent.value(next_obs), train_args.gamma, train_args.gae_lambda)
    batch = dict(obs=obs.reshape(steps * n, *obs_shape), actions=actions.reshape(steps * n, *action_shape),
                 log_probs=log_probs.reshape(-1), returns=returns.reshape(-1))
    adv = advantages.reshape(-1)
    return batch, (adv - adv.mean()) / (adv.std() + 1e-8)


def surrogate_gain(old_agent, new_agent, batch: dict, adv: torch.Tensor) -> float:
    """mean(ρA) − mean(A), ρ = π_new(a|s) / π_old(a|s)."""
    with torch.no_grad():
        log_ratio = new_agent(batch["obs"]).log_prob(batch["actions"]) - old_agent(batch["obs"]).log_prob(batch["actions"])
    return (log_ratio.exp() * adv).mean().item() - adv.mean().item()


def main(args: Args) -> None:
    if not args.lambdas or min(args.lambdas) <= 0:
        sys.exit(f"error: --lambdas needs at least one λ, each > 0 (got {args.lambdas}).")
    if args.batches < 2:
        sys.exit(f"error: --batches must be ≥ 2 for a standard error (got {args.batches}).")
    torch.set_num_threads(1)
    checkpoint = pixels.load_checkpoint(args.checkpoint)
    train_args = pixels.Args(**{k: v for k, v in checkpoint["args"].items() if k in pixels.Args.__dataclass_fields__})
    if train_args.update != "ppo":
        sys.exit(f"error: {args.checkpoint!r} was trained with --update {train_args.update}; this script measures the --update ppo epochs.")
    envs, reward_scaler = pixels.make_envs(dataclasses.replace(train_args, capture_video=False), "pixel_step_size")
    if reward_scaler is not None:  # the checkpoint's statistics, frozen
        for key, value in checkpoint["return_rms"].items():
            setattr(reward_scaler.return_rms, key, value.numpy())
        reward_scaler.update_running_mean = False
    agent = pixels.Agent(envs.single_observation_space.shape, envs.single_action_space, train_args.separate_encoders)
    agent.load_state_dict(checkpoint["agent"])
    torch.manual_seed(args.seed)
    batches = [collect(agent, envs, reward_scaler, train_args, args.seed + k) for k in range(args.batches + 1)]
    (heldout, heldout_adv), batches = batches[-1], batches[:-1]
    envs.close()

    candidates = [("PPO (A)", dataclasses.replace(train_args, transform="none"))]
    candidates += [(f"RAT λ = {lam:g}", dataclasses.replace(train_args, transform="rat", rat_lambda=lam)) for lam in args.lambdas]
    results = {name: [] for name, _ in candidates}  # per batch: (kl, gain, held-out gain, ‖Δθ‖)
    batch_size = train_args.num_envs * train_args.num_steps
    for k, (batch, adv) in enumerate(batches):
        for name, variant in candidates:
            new_agent = copy.deepcopy(agent)
            optimizer = torch.optim.Adam(new_agent.parameters(), lr=train_args.learning_rate, eps=1e-5)
            optimizer.load_state_dict(copy.deepcopy(checkpoint["optimizer"]))  # load_state_dict shares the tensors, which step() changes
            optimizer.param_groups[0]["lr"] = train_args.learning_rate  # the end of training annealed it to about 0
            torch.manual_seed(args.seed + k)  # one partition and Kaczmarz draw per batch, the same for every candidate
            minibatches = torch.randperm(batch_size).split(batch_size // variant.num_minibatches)
            transformed = adv if variant.transform == "none" else pixels.transform_advantages(new_agent, batch, adv, minibatches, variant)
            torch.manual_seed(args.seed + 1000 + k)  # and one epoch order
            pixels.minibatch_updates(new_agent, optimizer, dict(batch, transformed_adv=transformed), minibatches, variant)
            with torch.no_grad():
                kl = torch.distributions.kl_divergence(agent(batch["obs"]), new_agent(batch["obs"])).mean().item()
            moved = (parameters_to_vector(new_agent.policy_parameters().values())
                     - parameters_to_vector(agent.policy_parameters().values())).norm().item()
            results[name].append((kl, surrogate_gain(agent, new_agent, batch, adv), surrogate_gain(agent, new_agent, heldout, heldout_adv), moved))

    lines = [f"\n{checkpoint['env_id']}, step {checkpoint['global_step']} of `{args.checkpoint}`; {args.batches} batches of "
             f"{batch_size} and one held-out batch, Adam state of the checkpoint at learning rate {train_args.learning_rate:g}, "
             f"{train_args.update_epochs} epochs × {train_args.num_minibatches} mini-batches, clip {train_args.clip_coef}; "
             "mean ± standard error over the batches\n",
             "| update | KL(π_old ‖ π_new) | KL ÷ PPO's on the same batch (mean) | gain on its batch | held-out gain | ‖Δθ‖ of the policy |",
             "|---|---|---|---|---|---|"]
    ppo_kl = np.array(results["PPO (A)"])[:, 0]
    for name, rows in results.items():
        rows = np.array(rows)
        cells = [f"{rows[:, j].mean():.4g} ± {rows[:, j].std(ddof=1) / np.sqrt(len(rows)):.2g}" for j in range(4)]
        lines.append(f"| {name} | {cells[0]} | {np.mean(rows[:, 0] / ppo_kl):.2f} | {cells[1]} | {cells[2]} | {cells[3]} |")
    print("\n".join(lines))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    if not Path(args.out).exists():
        Path(args.out).write_text("# How far one pixel update moves the policy (benchmark/pixel_step_size.py)\n\n"
                                  "Gains are mean(ρA) − mean(A) with normalized advantages; one section per measured checkpoint.\n")
    with open(args.out, "a") as f:
        f.write("\n".join(lines) + "\n")
    print(f"appended to {args.out}")


if __name__ == "__main__":
    try:
        main(tyro.cli(Args))
    except FloatingPointError as error:  # a diverging solve: say what to change, not a traceback
        sys.exit(f"error: {error}")
