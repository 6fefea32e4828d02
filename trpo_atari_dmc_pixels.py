"""TRPO and natural actor-critic for Atari and DeepMind Control from pixels — the baselines RAT is measured against.

Both step along the natural gradient s ≈ (H + λI)⁻¹ g, g = ∇θ mean(A · log πθ), λ = --cg-damping, found by conjugate
gradient on Fisher-vector products: H is the Hessian of the mean KL(πθ_old ‖ πθ) at θ_old, the *expected* Fisher,
obtained by double backpropagation through the CNN policy (Schulman et al. 2015). θ is every policy parameter: the
Nature-CNN encoder and the actor head. The full step η s, η = sqrt(2δ / sᵀHs), is the step whose quadratic model of
the KL equals δ. TRPO then backtracks until the true KL ≤ δ and the surrogate improves; with --no-line-search the full
step is taken as it is: natural actor-critic.

Each CG iteration costs one backward pass through the graph of the KL's gradient (about two of the network's) over
the frames it is given; RAT's transform replaces the whole solve by about one extra forward-backward pass.
`--fvp-subsample` estimates H on a random fraction of the batch, the usual TRPO economy; the policy gradient and the
line search always use the whole batch. Seconds per policy step (g, 10 CG iterations, sᵀHs, line search), measured on
one CPU thread of a 2-core machine that was running two other trainings, batch 8 × 128 frames at initialization:
Breakout 21.7 with the whole batch, 5.3 with 0.2; cartpole-swingup 38.6 and 8.3 (RAT's transform on the same
batches: 1.5 and 3.1). Both fractions gave steps of KL 0.008–0.009 without backtracking, hence the default 0.2; a
subsample too small to represent the batch shows as backtracking and refused steps (policy/backtracks, policy/accepted).

The environment set-up, Nature CNN, critic training (Adam on the returns; only the critic's head when the encoder is
shared), checkpoints, evaluation and logging are those of `rat_atari_dmc_pixels.py`, so a comparison with RAT (and
with PPO from pixels, `rat_atari_dmc_pixels.py --transform none`) measures the policy step alone.

One script, both families; the env id decides wrappers and policy head:
    Atari (categorical):          python trpo_atari_dmc_pixels.py --env-id ALE/Breakout-v5
    DeepMind Control (Gaussian):  python trpo_atari_dmc_pixels.py --env-id dm_control/cartpole-swingup-v0
    natural actor-critic:         python trpo_atari_dmc_pixels.py --env-id ALE/Breakout-v5 --no-line-search --exp-name nac_atari_dmc_pixels
"""

import csv
import dataclasses
import math
import os
import random
import signal
import sys
import time
from dataclasses import dataclass
from typing import Optional

os.environ.setdefault("MUJOCO_GL", "egl")  # headless DeepMind Control rendering; set MUJOCO_GL to override

import gymnasium as gym
import numpy as np
import torch
import torch.nn as nn
import tyro
from torch.nn.utils import parameters_to_vector, vector_to_parameters
from torch.utils.tensorboard import SummaryWriter


@dataclass
class Args:
    # --- experiment ---
    exp_name: str = "trpo_atari_dmc_pixels"
    """the name of this experiment (part of the run name)"""
    seed: int = 1
    """seed of the experiment: two CPU runs with the same seed and --torch-threads give identical results"""
    torch_deterministic: bool = True
    """if toggled, `torch.backends.cudnn.deterministic=True`"""
    cuda: bool = True
    """if toggled, use a GPU when one is present (the CPU otherwise)"""
    torch_threads: int = 1
    """CPU threads of torch: more help the batched passes only on idle cores, and stall when the cores are busy"""
    capture_video: bool = False
    """if toggled, save videos of the agent to `videos/`: training env 0 on Gymnasium's schedule (episodes 0, 1, 8, 27, …), every evaluated episode"""
    save_model: bool = False
    """if toggled, save a checkpoint at the end of training to `runs/{run_name}/checkpoint.pt` and evaluate it"""
    checkpoint_every: int = 0
    """save a checkpoint every this many iterations (0: never; Ctrl-C always saves one)"""
    resume: Optional[str] = None
    """path of a checkpoint to continue training from, with its flags; only --total-timesteps, --checkpoint-every, --save-model, --cuda, --torch-threads and --capture-video may change"""
    eval_checkpoint: Optional[str] = None
    """path of a checkpoint to evaluate instead of training"""
    eval_episodes: int = 10
    """number of episodes of an evaluation (Atari: whole games over all lives, unclipped score)"""
    eval_stochastic: Optional[bool] = None
    """evaluation samples actions (True) or takes the argmax / Gaussian mean (False); default: sampled on Atari, where an argmax policy can stall a game for its whole time limit by never pressing FIRE, the mean on DeepMind Control"""

    # --- environment ---
    env_id: str = "ALE/Breakout-v5"
    """Atari (`ALE/Breakout-v5`, `BreakoutNoFrameskip-v4`) or DeepMind Control (`dm_control/cartpole-swingup-v0`) id"""
    total_timesteps: Optional[int] = None
    """total agent steps of the run (default: 500k on Atari = 2M frames, 100k on DeepMind Control)"""
    num_envs: int = 8
    """number of parallel environments"""
    num_steps: int = 128
    """steps per environment per rollout (the batch is num_envs * num_steps)"""
    gamma: float = 0.99
    """discount factor γ"""
    gae_lambda: float = 0.95
    """λ of generalized advantage estimation"""
    action_repeat: Optional[int] = None
    """DeepMind Control: times each action is repeated (default: cartpole 8, cheetah 4, walker 2, finger 2, reacher 4, ball_in_cup 4, others 4)"""
    max_episode_steps: Optional[int] = None
    """cut episodes after this many agent steps, in training and evaluation (default: the environment's own limit)"""
    fast_render: bool = True
    """DeepMind Control: render the observed frames without multisampling and shadows (measured here 29 → 309 frames/s at 84×84)"""

    # --- algorithm ---
    max_kl: float = 0.01
    """the KL divergence δ of a step: η = sqrt(2δ / sᵀHs), and the line search's bound"""
    cg_iters: int = 10
    """conjugate-gradient iterations for s ≈ (H + damping·I)⁻¹ g"""
    cg_damping: float = 0.1
    """damping added to the Fisher H in the conjugate-gradient solve"""
    fvp_subsample: float = 0.2
    """fraction of the batch whose frames CG's Fisher-vector products use (1.0: all); g and the line search use all"""
    line_search: bool = True
    """shrink the step until the true KL ≤ δ and the surrogate improves; --no-line-search: natural actor-critic"""
    line_search_steps: int = 10
    """step sizes η, fη, f²η, … (f = --line-search-factor) the line search tries before it keeps the old policy"""
    line_search_factor: float = 0.8
    """factor f of each shrink (halving settles at a quarter of δ: the full step's KL is just above δ)"""
    separate_encoders: bool = False
    """if toggled, the critic has its own CNN; otherwise actor and critic share one and the critic trains only its head"""
    learning_rate: float = 2.5e-4
    """Adam learning rate of the critic, linearly annealed"""
    anneal_lr: bool = True
    """if toggled, anneal the learning rate linearly to 0"""
    update_epochs: int = 4
    """Adam epochs of the critic over the batch"""
    num_minibatches: int = 4
    """number of mini-batches per epoch (one partition per iteration, visited in a fresh order each epoch)"""
    max_grad_norm: float = 0.5
    """maximum norm of the critic's Adam gradients"""


FAMILY_DEFAULTS = {
    "atari": dict(total_timesteps=500_000, eval_stochastic=True),
    "dm_control": dict(total_timesteps=100_000, eval_stochastic=False),
}
DMC_ACTION_REPEAT = {"cartpole": 8, "cheetah": 4, "walker": 2, "finger": 2, "reacher": 4, "ball_in_cup": 4}


# ---------------------------------------------------------------------------- environment


def env_family(env_id: str) -> str:
    """'atari' or 'dm_control', registering that family with Gymnasium; one sentence for any other id."""
    if env_id.startswith("dm_control/"):
        try:  # dm_control loads its GL backend on import
            import shimmy
        except Exception as error:
            sys.exit(f"error: cannot load DeepMind Control with MUJOCO_GL={os.environ['MUJOCO_GL']} ({type(error).__name__}: {error}); "
                     "set MUJOCO_GL to a backend this machine has: egl, osmesa or glfw.")
        gym.register_envs(shimmy)
        family = "dm_control"
    else:
        import ale_py

        gym.register_envs(ale_py)
        family = "atari"
    spec = gym.registry.get(env_id)
    if spec is None or (family == "atari" and spec.entry_point != "ale_py.env:AtariEnv"):
        sys.exit(f"error: --env-id {env_id!r} is neither an Atari nor a DeepMind Control id; try ALE/Breakout-v5 or dm_control/cartpole-swingup-v0.")
    return family


def with_family_defaults(args: Args) -> Args:
    """A copy of `args` with the flags left at None set for the env id's family."""
    family = env_family(args.env_id)
    defaults = {key: value for key, value in FAMILY_DEFAULTS[family].items() if getattr(args, key) is None}
    if family == "dm_control" and args.action_repeat is None:
        defaults["action_repeat"] = DMC_ACTION_REPEAT.get(args.env_id.split("/")[1].split("-")[0], 4)
    return dataclasses.replace(args, **defaults)


def make_env(env_id: str, action_repeat: Optional[int], max_episode_steps: Optional[int], fast_render: bool,
             video_folder: Optional[str] = None, every_episode: bool = True):
    """uint8 channel-first frames: Atari (4, 84, 84) grayscale, DeepMind Control (9, 84, 84) = 3 stacked RGB frames.
    Atari v5 ids keep their sticky actions (repeat probability 0.25); NoFrameskip-v4 ids have none."""

    def thunk():
        if env_family(env_id) == "atari":
            # ALE v5 ids skip 4 frames inside the emulator; AtariPreprocessing must do the skipping itself to
            # max-pool the last two frames. A lost life is terminal for the learner only (see `train`): Gymnasium's
            # terminal_on_life_loss restarts the whole game, so the agent would only ever play its first life.
            env = gym.make(env_id, frameskip=1, render_mode="rgb_array" if video_folder else None)
            env = gym.wrappers.AtariPreprocessing(env, noop_max=30, frame_skip=4, screen_size=84, grayscale_obs=True)
            env = gym.wrappers.FrameStackObservation(env, 4)
        else:
            env = gym.make(env_id, render_mode="rgb_array", render_kwargs=dict(width=84, height=84, camera_id=0))
            if fast_render:  # read when the first render creates the GL context
                env.unwrapped.physics.model.vis.quality.offsamples = 0
                env.unwrapped.physics.model.vis.quality.shadowsize = 0
            env = gym.wrappers.ClipAction(env)
            env = gym.wrappers.RepeatAction(env, action_repeat)
            env = gym.wrappers.AddRenderObservation(env, render_only=True)  # (84, 84, 3)
            env = gym.wrappers.TransformObservation(
                env, lambda frame: frame.transpose(2, 0, 1), gym.spaces.Box(0, 255, (3, 84, 84), np.uint8))
            env = gym.wrappers.FrameStackObservation(env, 3)  # (3, 3, 84, 84)
            env = gym.wrappers.ReshapeObservation(env, (9, 84, 84))
        if max_episode_steps:
            env = gym.wrappers.TimeLimit(env, max_episode_steps)
        if video_folder:  # one frame per agent step
            # every evaluated episode; in training Gymnasium's schedule (episodes 0, 1, 8, 27, …, 1000, then every 1000th)
            env = gym.wrappers.RecordVideo(env, video_folder, episode_trigger=(lambda episode: True) if every_episode else None)
        return env

    return thunk


def check_env(env_id: str, action_repeat: Optional[int], fast_render: bool) -> None:
    """Stop with one sentence if the environment cannot be built or rendered."""
    try:
        env = make_env(env_id, action_repeat, None, fast_render)()
        env.reset(seed=0)
        env.close()
    except Exception as error:
        if env_id.startswith("dm_control/"):
            sys.exit(f"error: cannot render {env_id} with MUJOCO_GL={os.environ['MUJOCO_GL']} ({type(error).__name__}: {error}); "
                     "set MUJOCO_GL to a backend this machine has: egl, osmesa or glfw.")
        sys.exit(f"error: cannot create {env_id} ({type(error).__name__}: {error}).")


def make_envs(args: Args, run_name: str):
    """Vector env that auto-resets within the step; raw episode returns, then reward clipping (Atari) or scaling (DMC)."""
    video_folder = f"videos/{run_name}" if args.capture_video else None
    envs = gym.vector.SyncVectorEnv(
        [make_env(args.env_id, args.action_repeat, args.max_episode_steps, args.fast_render, video_folder if i == 0 else None, every_episode=False)
         for i in range(args.num_envs)],
        autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,
    )
    envs = gym.wrappers.vector.RecordEpisodeStatistics(envs)  # Atari: the real game score, over all lives
    if env_family(args.env_id) == "atari":
        return gym.wrappers.vector.ClipReward(envs, -1.0, 1.0), None
    reward_scaler = envs = gym.wrappers.vector.NormalizeReward(envs, gamma=args.gamma)
    return gym.wrappers.vector.ClipReward(envs, -10.0, 10.0), reward_scaler


# ---------------------------------------------------------------------------- networks


def layer_init(layer: nn.Module, std: float = math.sqrt(2), bias_const: float = 0.0) -> nn.Module:
    torch.nn.init.orthogonal_(layer.weight, std)
    torch.nn.init.constant_(layer.bias, bias_const)
    return layer


class NatureCNN(nn.Sequential):
    """Mnih et al. (2015): conv 8×8/4, 4×4/2, 3×3/1 and a 512-unit layer, over uint8 frames scaled to [0, 1]."""

    def __init__(self, obs_shape: tuple, channels: tuple = (32, 64, 64), hidden: int = 512):
        convs = [
            layer_init(nn.Conv2d(obs_shape[0], channels[0], 8, stride=4)), nn.ReLU(),
            layer_init(nn.Conv2d(channels[0], channels[1], 4, stride=2)), nn.ReLU(),
            layer_init(nn.Conv2d(channels[1], channels[2], 3, stride=1)), nn.ReLU(),
            nn.Flatten(),
        ]
        flat = nn.Sequential(*convs)(torch.zeros(1, *obs_shape)).shape[1]  # 3136 for 84 × 84
        super().__init__(*convs, layer_init(nn.Linear(flat, hidden)), nn.ReLU())

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return super().forward(obs.to(self[0].weight.dtype) / 255.0)


class LogStd(nn.Module):
    """A state-independent log σ as a layer whose output is log σ expanded over the batch: hooks see its per-sample gradient."""

    def __init__(self, act_dim: int):
        super().__init__()
        self.log_std = nn.Parameter(torch.zeros(act_dim))

    def forward(self, mean: torch.Tensor) -> torch.Tensor:
        return self.log_std.expand_as(mean)


class Agent(nn.Module):
    """Policy πθ(a|s) on encoder features — softmax over Atari's actions, or N(μθ(s), diag σ²) with a state-independent
    log σ for DeepMind Control — and value V(s). The encoder is shared unless separate_encoders: θ includes the CNN."""

    def __init__(self, obs_shape: tuple, action_space: gym.Space, separate_encoders: bool = False,
                 channels: tuple = (32, 64, 64), hidden: int = 512):
        super().__init__()
        discrete = isinstance(action_space, gym.spaces.Discrete)
        self.encoder = NatureCNN(obs_shape, channels, hidden)
        self.critic_encoder = NatureCNN(obs_shape, channels, hidden) if separate_encoders else None
        self.actor = layer_init(nn.Linear(hidden, int(action_space.n) if discrete else action_space.shape[0]), std=0.01)
        self.actor_log_std = None if discrete else LogStd(action_space.shape[0])
        self.critic = layer_init(nn.Linear(hidden, 1), std=1.0)

    def distribution(self, features: torch.Tensor) -> torch.distributions.Distribution:
        # No argument validation: its data-dependent checks cannot run under torch.func.vmap.
        out = self.actor(features)
        if self.actor_log_std is None:
            return torch.distributions.Categorical(logits=out, validate_args=False)
        normal = torch.distributions.Normal(out, self.actor_log_std(out).exp(), validate_args=False)
        return torch.distributions.Independent(normal, 1, validate_args=False)

    def forward(self, obs: torch.Tensor) -> torch.distributions.Distribution:
        """πθ(·|s)."""
        return self.distribution(self.encoder(obs))

    def policy_and_value(self, obs: torch.Tensor) -> tuple:
        features = self.encoder(obs)
        critic_features = features if self.critic_encoder is None else self.critic_encoder(obs)
        return self.distribution(features), self.critic(critic_features).squeeze(-1)

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        """V(s) through the critic's own parameters: a shared encoder is read without gradient."""
        if self.critic_encoder is None:
            with torch.no_grad():
                features = self.encoder(obs)
        else:
            features = self.critic_encoder(obs)
        return self.critic(features).squeeze(-1)

    def policy_parameters(self) -> dict:
        return {name: p for name, p in self.named_parameters() if name.startswith(("encoder.", "actor"))}

    def critic_parameters(self) -> list:
        return [p for name, p in self.named_parameters() if name.startswith(("critic.", "critic_encoder."))]


# ---------------------------------------------------------------------------- the algorithm


def compute_gae(rewards, values, dones, next_value, gamma: float, gae_lambda: float):
    """Generalized advantage estimation over a rollout of shape (T, num_envs).

    δ_t = r_t + γ V(s_{t+1})(1 − d_t) − V(s_t),  Â_t = δ_t + γλ(1 − d_t) Â_{t+1};  d_t = 1 if the episode ended at t.
    At a time-limit truncation the rollout has already added γ V(final observation) to r_t: a time limit is no terminal state.
    Returns (advantages, returns = advantages + values)."""
    advantages = torch.zeros_like(rewards)
    last_gae = torch.zeros_like(next_value)
    for t in reversed(range(rewards.shape[0])):
        next_values = next_value if t == rewards.shape[0] - 1 else values[t + 1]
        not_done = 1.0 - dones[t]
        delta = rewards[t] + gamma * next_values * not_done - values[t]
        last_gae = delta + gamma * gae_lambda * not_done * last_gae
        advantages[t] = last_gae
    return advantages, advantages + values


def make_fisher_vector_product(agent: Agent, obs: torch.Tensor):
    """v ↦ H v with H = ∇²θ mean_i KL(πθ_old(·|s_i) ‖ πθ(·|s_i)) at θ = θ_old, by double backpropagation.

    H is the expected Fisher mean_i E_{a~π(·|s_i)}[∇log π ∇log πᵀ] over the policy's parameters. With J_i the Jacobian of
    the head's output at s_i: categorical, J_iᵀ (diag p_i − p_i p_iᵀ) J_i on the logits; Gaussian, J_iᵀ diag(1/σ²) J_i on
    the mean and 2 on each log σ_j. It is not the empirical Fisher SᵀS/N that RAT inverts; the two agree only in
    expectation. v and Hv are flat, (d,), in the order of agent.policy_parameters().

    The KL's gradient is taken once, with its graph; each product is then one backward pass through that graph (about
    two of the network's). Redoing the forward pass and first backward for every product cost 40–60% more per
    product here (Nature CNN, one CPU thread)."""
    params = list(agent.policy_parameters().values())
    dist = agent(obs)
    # π_old is πθ held constant, so the KL and its gradient vanish at θ_old and its Hessian is the Fisher.
    if isinstance(dist, torch.distributions.Categorical):
        old_dist = torch.distributions.Categorical(logits=dist.logits.detach(), validate_args=False)
    else:
        normal = torch.distributions.Normal(dist.base_dist.loc.detach(), dist.base_dist.scale.detach(), validate_args=False)
        old_dist = torch.distributions.Independent(normal, 1, validate_args=False)
    kl = torch.distributions.kl_divergence(old_dist, dist).mean()
    # reshape, not view: the double backward of a convolution can return non-contiguous weight gradients.
    kl_grad = torch.cat([g.reshape(-1) for g in torch.autograd.grad(kl, params, create_graph=True)])  # (d,)

    def fisher_vector_product(vector: torch.Tensor) -> torch.Tensor:
        return torch.cat([g.reshape(-1) for g in torch.autograd.grad(kl_grad @ vector, params, retain_graph=True)])  # (d,)

    return fisher_vector_product


def conjugate_gradient(matvec, b: torch.Tensor, iters: int, residual_tol: float = 1e-10) -> torch.Tensor:
    """x ≈ M⁻¹ b for a symmetric positive-definite M known only through `matvec(v)` = M v. From x = 0, r = p = b
    (r the residual b − Mx, p the search direction):

        α = rᵀr / pᵀMp,   x ← x + αp,   r ← r − αMp,   p ← r + (r_newᵀr_new / rᵀr) p.

    Exact after at most d iterations; TRPO truncates at about 10, which also regularizes the step. Stops early once
    ‖r‖² ≤ residual_tol · ‖b‖²."""
    x = torch.zeros_like(b)
    residual, search_dir = b.clone(), b.clone()
    residual_sq, target_sq = residual @ residual, residual_tol * (b @ b)
    for _ in range(iters):
        if residual_sq <= target_sq:  # also b = 0, where the next α would be 0/0
            break
        product = matvec(search_dir)
        curvature = search_dir @ product
        if curvature <= 0:  # M is only positive semi-definite along p (no damping): stop before dividing by 0
            break
        alpha = residual_sq / curvature
        x += alpha * search_dir
        residual -= alpha * product
        new_residual_sq = residual @ residual
        search_dir = residual + (new_residual_sq / residual_sq) * search_dir
        residual_sq = new_residual_sq
    return x


def line_search(agent: Agent, obs, actions, advantages, direction: torch.Tensor, step_size: float, max_kl: float, steps: int, shrink: float = 0.8) -> dict:
    """θ ← θ_old + shrink^k η s for the first k < `steps` with mean KL(πθ_old ‖ πθ) ≤ δ and an improved surrogate
    L(θ) = mean(πθ(a|s) / πθ_old(a|s) · A) > L(θ_old) = mean(A). If no k passes, θ_old is put back.
    steps = 0: no line search (natural actor-critic), the full step η s is taken unchecked."""
    params = list(agent.policy_parameters().values())
    old_params = parameters_to_vector(params).detach()
    with torch.no_grad():
        old_dist = agent(obs)
        old_log_prob = old_dist.log_prob(actions)
    for backtrack in range(max(steps, 1)):
        fraction = shrink**backtrack
        vector_to_parameters(old_params + fraction * step_size * direction, params)
        with torch.no_grad():
            dist = agent(obs)
            kl = torch.distributions.kl_divergence(old_dist, dist).mean().item()
            improvement = ((dist.log_prob(actions) - old_log_prob).exp() * advantages).mean().item() - advantages.mean().item()
        if steps == 0 or (kl <= max_kl and improvement > 0):
            return dict(kl=kl, improvement=improvement, step_size=fraction * step_size, accepted=1.0, backtracks=backtrack)
    vector_to_parameters(old_params, params)
    return dict(kl=0.0, improvement=0.0, step_size=0.0, accepted=0.0, backtracks=steps)


def trpo_step(agent: Agent, obs, actions, advantages, max_kl: float, cg_iters: int, cg_damping: float, line_search_steps: int,
              line_search_factor: float = 0.8, fvp_subsample: float = 1.0) -> dict:
    """One natural-gradient step: s ≈ (H + damping·I)⁻¹ g by `cg_iters` CG iterations, g = ∇θ mean(A · log πθ),
    full step size η = sqrt(2δ / sᵀHs) (the KL's quadratic model ½ η² sᵀHs equals δ), then `line_search`.
    H, in CG and in sᵀHs, is estimated on a random `fvp_subsample` fraction of the frames."""
    params = list(agent.policy_parameters().values())
    policy_grad = parameters_to_vector(torch.autograd.grad((advantages * agent(obs).log_prob(actions)).mean(), params))  # g, (d,)
    fvp_obs = obs[torch.randperm(len(obs), device=obs.device)[:max(1, round(fvp_subsample * len(obs)))]] if fvp_subsample < 1 else obs
    fisher_vector_product = make_fisher_vector_product(agent, fvp_obs)
    direction = conjugate_gradient(lambda v: fisher_vector_product(v) + cg_damping * v, policy_grad, cg_iters)  # s, (d,)
    fisher_direction = fisher_vector_product(direction)  # H s, (d,)
    fisher_quad = direction @ fisher_direction
    if not torch.isfinite(fisher_quad):
        raise FloatingPointError("the natural-gradient direction is not finite; raise --cg-damping or lower --max-kl.")
    step_size = torch.sqrt(2 * max_kl / fisher_quad).item() if fisher_quad > 0 else 0.0
    # How far CG got: ‖(H + damping·I) s − g‖ / ‖g‖, free since Hs is at hand.
    relative_residual = (fisher_direction + cg_damping * direction - policy_grad).norm().item() / max(policy_grad.norm().item(), 1e-30)
    del fisher_vector_product  # its graph of the KL's gradient is the largest thing in memory; the line search needs none
    stats = line_search(agent, obs, actions, advantages, direction, step_size, max_kl, line_search_steps, line_search_factor)
    return dict(stats, fisher_quad=fisher_quad.item(), relative_residual=relative_residual)


def critic_updates(agent: Agent, optimizer, batch: dict, minibatches: list, args: Args) -> dict:
    """Adam epochs over the mini-batches on ½(V(s) − R)², over the critic's own parameters (its head, and its CNN with
    --separate-encoders): a shared encoder is the policy's, moved by the natural-gradient step alone."""
    params = optimizer.param_groups[0]["params"]
    value_losses = []
    for _ in range(args.update_epochs):
        for k in torch.randperm(len(minibatches)).tolist():
            mb = minibatches[k]
            value_loss = 0.5 * (agent.value(batch["obs"][mb]) - batch["returns"][mb]).pow(2).mean()
            optimizer.zero_grad()
            value_loss.backward()
            nn.utils.clip_grad_norm_(params, args.max_grad_norm)
            optimizer.step()
            value_losses.append(value_loss.item())
    return dict(value_loss=float(np.mean(value_losses)))


# ---------------------------------------------------------------------------- checkpoints and evaluation


def save_checkpoint(path: str, agent, optimizer, reward_scaler, args: Args, run_name: str, global_step: int, iteration: int) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    checkpoint = {
        "script": "trpo_atari_dmc_pixels",
        "env_id": args.env_id,
        "run_name": run_name,
        "args": dataclasses.asdict(args),
        "global_step": global_step,
        "iteration": iteration,
        "agent": agent.state_dict(),
        "optimizer": optimizer.state_dict(),  # the critic's Adam; the policy moves by natural-gradient steps
        "return_rms": {k: torch.as_tensor(getattr(reward_scaler.return_rms, k)) for k in ("mean", "var", "count")} if reward_scaler else None,
        "torch_rng": torch.get_rng_state(),
    }
    torch.save(checkpoint, path + ".tmp")
    os.replace(path + ".tmp", path)  # never leave a half-written checkpoint behind


def load_checkpoint(path: str, env_id: Optional[str] = None) -> dict:
    """Load a checkpoint of this script, stopping with one sentence if it is missing, corrupt or of another env."""
    if not os.path.isfile(path):
        sys.exit(f"error: checkpoint {path!r} does not exist.")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        sys.exit(f"error: {path!r} is not a readable checkpoint ({type(error).__name__}).")
    script = checkpoint.get("script") if isinstance(checkpoint, dict) else None
    if script != "trpo_atari_dmc_pixels":
        hint = f" but by {script}.py; use that script" if isinstance(script, str) else ""
        sys.exit(f"error: {path!r} was not written by trpo_atari_dmc_pixels.py{hint}.")
    if env_id is not None and checkpoint["env_id"] != env_id:
        sys.exit(f"error: {path!r} is a checkpoint of {checkpoint['env_id']}, not of --env-id {env_id}; pass --env-id {checkpoint['env_id']}.")
    return checkpoint


def evaluate(agent: Agent, env_fn, episodes: int, seed: int, deterministic: bool = True):
    """Undiscounted returns (Atari: the game's score over all lives) and lengths of `episodes` episodes on seeds seed, seed+1, …"""
    env = env_fn()
    device = next(agent.parameters()).device
    returns, lengths = [], []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        done, episode_return, episode_length = False, 0.0, 0
        while not done:
            with torch.no_grad():
                dist = agent(torch.as_tensor(obs, device=device)[None])
                action = dist.mode if deterministic else dist.sample()
            obs, reward, terminated, truncated, _ = env.step(action[0].cpu().numpy())
            done, episode_return, episode_length = terminated or truncated, episode_return + float(reward), episode_length + 1
        returns.append(episode_return)
        lengths.append(episode_length)
    env.close()
    return returns, lengths


def run_evaluation(agent, args: Args, train_args: Args, out_dir: str, writer: Optional[SummaryWriter], global_step: int) -> list:
    """Evaluate in the environment of `train_args` (its frames as the policy saw them in training), on seeds disjoint
    from its training seeds; print, log to TensorBoard and append to `{out_dir}/eval.csv`."""
    started = time.time()
    video_folder = os.path.join(out_dir, "eval_videos") if args.capture_video else None
    env_fn = make_env(train_args.env_id, train_args.action_repeat, args.max_episode_steps, train_args.fast_render, video_folder)
    stochastic = FAMILY_DEFAULTS[env_family(train_args.env_id)]["eval_stochastic"] if args.eval_stochastic is None else args.eval_stochastic
    returns, lengths = evaluate(agent, env_fn, args.eval_episodes, train_args.seed + 1_000_000, not stochastic)
    seconds = time.time() - started
    print(f"eval {train_args.env_id}: return {np.mean(returns):.1f} ± {np.std(returns):.1f}, length {np.mean(lengths):.0f} over {len(returns)} episodes, {'sampled' if stochastic else 'deterministic'} actions ({seconds:.1f} s)")
    if writer is not None:
        writer.add_scalar("eval/episodic_return", np.mean(returns), global_step)
        writer.add_scalar("eval/episodic_length", np.mean(lengths), global_step)
    os.makedirs(out_dir, exist_ok=True)
    csv_path = os.path.join(out_dir, "eval.csv")
    new_file = not os.path.exists(csv_path)
    with open(csv_path, "a", newline="") as f:
        out = csv.writer(f)
        if new_file:
            out.writerow(["env_id", "global_step", "episodes", "deterministic", "return_mean", "return_std", "length_mean", "seconds"])
        out.writerow([train_args.env_id, global_step, len(returns), not stochastic, np.mean(returns), np.std(returns), np.mean(lengths), round(seconds, 2)])
    return returns


# ---------------------------------------------------------------------------- training


RESUME_MAY_CHANGE = ("total_timesteps", "checkpoint_every", "save_model", "cuda", "torch_threads", "capture_video", "resume")


def check_args(args: Args) -> None:
    """Stop with one sentence for a flag no run can use."""
    batch_size = args.num_envs * args.num_steps
    problems = [
        (args.max_kl <= 0, f"--max-kl must be > 0 (got {args.max_kl}); δ = 0.01 is the default."),
        (args.cg_iters < 1, f"--cg-iters must be ≥ 1 (got {args.cg_iters})."),
        (args.cg_damping < 0, f"--cg-damping must be ≥ 0 (got {args.cg_damping}); 0.1 is the default."),
        (not 0 < args.fvp_subsample <= 1, f"--fvp-subsample must lie in (0, 1] (got {args.fvp_subsample}); 1.0 uses the whole batch."),
        (args.line_search_steps < 1, f"--line-search-steps must be ≥ 1 (got {args.line_search_steps}); use --no-line-search to take the full step."),
        (not 0 < args.line_search_factor < 1, f"--line-search-factor must lie in (0, 1) (got {args.line_search_factor})."),
        (args.learning_rate <= 0, f"--learning-rate must be > 0 (got {args.learning_rate})."),
        (args.update_epochs < 1, f"--update-epochs must be ≥ 1 (got {args.update_epochs})."),
        (args.num_envs < 1 or args.num_steps < 1, "--num-envs and --num-steps must be ≥ 1."),
        (args.num_minibatches < 1 or batch_size % args.num_minibatches, f"the batch of {batch_size} samples (--num-envs × --num-steps) must divide into --num-minibatches {args.num_minibatches}."),
        (args.total_timesteps < batch_size, f"--total-timesteps {args.total_timesteps} is less than one batch of {batch_size} samples."),
        (args.action_repeat is not None and args.action_repeat < 1, "--action-repeat must be ≥ 1."),
        (args.max_episode_steps is not None and args.max_episode_steps < 1, "--max-episode-steps must be ≥ 1."),
        (args.eval_episodes < 1, "--eval-episodes must be ≥ 1."),
        (args.torch_threads < 1, "--torch-threads must be ≥ 1."),
        (args.checkpoint_every < 0, "--checkpoint-every must be ≥ 0."),
    ]
    for failed, message in problems:
        if failed:
            sys.exit(f"error: {message}")


def train(args: Args) -> dict:
    args = with_family_defaults(args)
    check_args(args)
    # --env-id may be left out on resume: the checkpoint knows its env (one that disagrees is refused)
    checkpoint = load_checkpoint(args.resume, None if args.env_id == Args.env_id else args.env_id) if args.resume else None
    if checkpoint:  # continue the same run: its flags, but for those that do not change what is learned
        keep = {name: getattr(args, name) for name in RESUME_MAY_CHANGE}
        args = dataclasses.replace(Args(**{k: v for k, v in checkpoint["args"].items() if k in Args.__dataclass_fields__}), **keep)
        if checkpoint["global_step"] + args.num_envs * args.num_steps > args.total_timesteps:
            sys.exit(f"error: the checkpoint is at step {checkpoint['global_step']} already; pass a larger --total-timesteps to continue.")
    check_env(args.env_id, args.action_repeat, args.fast_render)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.backends.cudnn.deterministic = args.torch_deterministic
    torch.set_num_threads(args.torch_threads)
    device = torch.device("cuda" if args.cuda and torch.cuda.is_available() else "cpu")

    run_name = checkpoint["run_name"] if checkpoint else f"{args.env_id.replace('/', '_')}__{args.exp_name}__{args.seed}__{int(time.time())}"
    run_dir = f"runs/{run_name}"
    envs, reward_scaler = make_envs(args, run_name)
    obs_shape, action_shape = envs.single_observation_space.shape, envs.single_action_space.shape
    agent = Agent(obs_shape, envs.single_action_space, args.separate_encoders).to(device)
    optimizer = torch.optim.Adam(agent.critic_parameters(), lr=args.learning_rate, eps=1e-5)
    batch_size = args.num_envs * args.num_steps
    num_iterations = args.total_timesteps // batch_size
    global_step, start_iteration = 0, 1
    if checkpoint:
        try:
            agent.load_state_dict(checkpoint["agent"])
            optimizer.load_state_dict(checkpoint["optimizer"])
        except (RuntimeError, ValueError, KeyError):
            sys.exit(f"error: {args.resume!r} does not fit this run's network; resume with the --separate-encoders it was trained with.")
        for key, value in (checkpoint["return_rms"] or {}).items():
            setattr(reward_scaler.return_rms, key, value.numpy())
        torch.set_rng_state(checkpoint["torch_rng"])
        global_step, start_iteration = checkpoint["global_step"], checkpoint["iteration"] + 1
        print(f"resumed {run_name} at step {global_step}")

    writer = SummaryWriter(run_dir)
    writer.add_text("hyperparameters", "|param|value|\n|-|-|\n" + "\n".join(f"|{k}|{v}|" for k, v in vars(args).items()))

    def checkpoint_now(iteration: int) -> str:
        path = f"{run_dir}/checkpoint.pt"
        save_checkpoint(path, agent, optimizer, reward_scaler, args, run_name, global_step, iteration)
        return path

    obs = torch.zeros((args.num_steps, args.num_envs, *obs_shape), dtype=torch.uint8, device=device)  # frames stay uint8
    actions = torch.zeros((args.num_steps, args.num_envs, *action_shape), device=device)
    rewards, dones, values = (torch.zeros((args.num_steps, args.num_envs), device=device) for _ in range(3))
    raw_obs, info = envs.reset(seed=args.seed + global_step)  # a resumed run continues on fresh episodes
    next_obs, lives = torch.as_tensor(raw_obs, device=device), info.get("lives")
    episode_returns, start_time, start_step, last_print = [], time.time(), global_step, 0.0
    stop_requested = []

    def request_stop(signum, frame):  # a checkpoint mid-update could hold a line-search trial point
        signal.signal(signal.SIGINT, signal.default_int_handler)
        print("Ctrl-C: saving a checkpoint after this iteration (press again to quit without one)", flush=True)
        stop_requested.append(signum)

    signal.signal(signal.SIGINT, request_stop)
    try:
        for iteration in range(start_iteration, num_iterations + 1):
            if args.anneal_lr:
                optimizer.param_groups[0]["lr"] = (1.0 - (iteration - 1.0) / num_iterations) * args.learning_rate

            for step in range(args.num_steps):
                global_step += args.num_envs
                obs[step] = next_obs
                with torch.no_grad():
                    dist, values[step] = agent.policy_and_value(next_obs)
                    action = dist.sample()
                actions[step] = action
                raw_obs, reward, terminated, truncated, info = envs.step(action.cpu().numpy())
                next_obs = torch.as_tensor(raw_obs, device=device)
                if lives is not None:  # Atari: a lost life ends the learner's episode, not the game
                    terminated, lives = terminated | (info["lives"] < lives), info["lives"]
                reward = torch.as_tensor(reward, dtype=torch.float32, device=device)
                # A time limit is not a terminal state: bootstrap with V(final observation), not 0.
                for i in np.flatnonzero(truncated & ~terminated):
                    with torch.no_grad():
                        reward[i] += args.gamma * agent.value(torch.as_tensor(info["final_obs"][i], device=device)[None])[0]
                rewards[step], dones[step] = reward, torch.as_tensor(terminated | truncated, dtype=torch.float32, device=device)
                for i in np.flatnonzero(info.get("_episode", [])):
                    episode_returns.append(float(info["episode"]["r"][i]))
                    writer.add_scalar("charts/episodic_return", info["episode"]["r"][i], global_step)
                    writer.add_scalar("charts/episodic_length", info["episode"]["l"][i], global_step)

            update_start = time.time()
            with torch.no_grad():
                advantages, returns = compute_gae(rewards, values, dones, agent.value(next_obs), args.gamma, args.gae_lambda)
            batch = dict(obs=obs.reshape(batch_size, *obs_shape), actions=actions.reshape(batch_size, *action_shape),
                         returns=returns.reshape(-1))
            adv = advantages.reshape(-1)
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)  # A, normalized; the epsilon keeps a constant batch finite
            minibatches = torch.randperm(batch_size, device=device).split(batch_size // args.num_minibatches)

            stats = trpo_step(agent, batch["obs"], batch["actions"], adv, args.max_kl, args.cg_iters, args.cg_damping,
                              args.line_search_steps if args.line_search else 0, args.line_search_factor, args.fvp_subsample)
            policy_step_seconds = time.time() - update_start
            stats.update(critic_updates(agent, optimizer, batch, minibatches, args))
            update_seconds = time.time() - update_start
            if not all(torch.isfinite(p).all() for p in agent.parameters()):
                raise FloatingPointError("the update made the network's weights non-finite; lower --max-kl or --learning-rate.")

            sps = int((global_step - start_step) / (time.time() - start_time))
            for key, value in stats.items():
                writer.add_scalar(f"{'losses' if key.endswith('loss') else 'policy'}/{key}", value, global_step)
            writer.add_scalar("charts/SPS", sps, global_step)
            writer.add_scalar("charts/learning_rate", optimizer.param_groups[0]["lr"], global_step)
            writer.add_scalar("time/policy_step_seconds", policy_step_seconds, global_step)
            writer.add_scalar("time/update_seconds", update_seconds, global_step)
            if time.time() - last_print > 10 or iteration == num_iterations:
                last_print = time.time()
                recent = f"{np.mean(episode_returns[-20:]):8.1f}" if episode_returns else "       -"
                print(f"step {global_step:>8}/{args.total_timesteps} | return {recent} | SPS {sps:>5} | "
                      f"kl {stats['kl']:.4f} | policy step {policy_step_seconds:.2f}s / update {update_seconds:.2f}s", flush=True)
            if args.checkpoint_every and iteration % args.checkpoint_every == 0:
                checkpoint_now(iteration)
            if stop_requested:
                path = checkpoint_now(iteration)
                print(f"interrupted: checkpoint of step {global_step} saved to {path}; continue with --resume {path}")
                envs.close()
                writer.close()
                sys.exit(130)
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)

    summary = dict(run_name=run_name, global_step=global_step, episode_returns=episode_returns, agent=agent)
    if args.save_model:
        summary["checkpoint"] = checkpoint_now(num_iterations)
        print(f"model saved to {summary['checkpoint']}")
        summary["eval_returns"] = run_evaluation(agent, args, args, run_dir, writer, global_step)
    envs.close()
    writer.close()
    return summary


def evaluate_checkpoint(args: Args) -> list:
    """--eval-checkpoint: rebuild the agent and its environment from the checkpoint and evaluate it; no training."""
    torch.set_num_threads(args.torch_threads)
    checkpoint = load_checkpoint(args.eval_checkpoint)
    train_args = Args(**checkpoint["args"])
    if args.env_id not in (train_args.env_id, Args.env_id):
        sys.exit(f"error: {args.eval_checkpoint!r} is a checkpoint of {train_args.env_id}, not of --env-id {args.env_id}.")
    check_env(train_args.env_id, train_args.action_repeat, train_args.fast_render)
    probe = make_env(train_args.env_id, train_args.action_repeat, None, train_args.fast_render)()
    agent = Agent(probe.observation_space.shape, probe.action_space, train_args.separate_encoders)
    probe.close()
    agent.load_state_dict(checkpoint["agent"])
    out_dir = os.path.dirname(os.path.abspath(args.eval_checkpoint))
    with SummaryWriter(out_dir) as writer:
        return run_evaluation(agent, args, train_args, out_dir, writer, checkpoint["global_step"])


if __name__ == "__main__":
    cli_args = tyro.cli(Args)
    try:
        evaluate_checkpoint(cli_args) if cli_args.eval_checkpoint else train(cli_args)
    except FloatingPointError as error:  # a diverging solve or step: say what to change, not a traceback
        sys.exit(f"error: {error}")
