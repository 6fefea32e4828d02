"""RAT — Randomized Advantage Transformation — for Atari and DeepMind Control from pixels.

Natural policy gradients by plain backpropagation. By the Woodbury identity the
Tikhonov-regularized natural gradient is a vanilla policy gradient with transformed advantages:

    (F + λI)⁻¹ g = Sᵀ Ã / N,     Ã = (SSᵀ/N + λI)⁻¹ A,

S (N × d) being the per-sample scores ∇θ log πθ(a_i|s_i) of the batch over every policy parameter
(with the shared encoder, the CNN too). `rat_transform` solves for Ã by randomized block Kaczmarz.
A CNN's per-sample scores are expensive to materialize, so `FactoredScores` holds S as per-layer
factors from one batched forward and backward: every product the solve needs (S_B S_Bᵀ, S_B w,
S_Bᵀ Δ) is a product of small matrices, and the whole transform costs about one extra
forward-backward pass over the batch (measured: 0.4 of a PPO update on Breakout, one CPU thread).

Ã's weights cancel only across the samples it was solved on (a slice S_BᵀÃ_B of the batch's Ã is
no natural gradient, and a noisy one), so with the default `--update ppo` each mini-batch gets its
own solve (exact at the defaults: one block), and every Adam step follows that mini-batch's natural gradient; `--update npg` solves once over the whole batch and takes one
KL-sized step. `--transform none` is PPO from pixels with everything else identical.

One script, both families; the env id decides wrappers and policy head:
    Atari (categorical):          python rat_atari_dmc_pixels.py --env-id ALE/Breakout-v5
    DeepMind Control (Gaussian):  python rat_atari_dmc_pixels.py --env-id dm_control/cartpole-swingup-v0
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
from typing import Literal, Optional

os.environ.setdefault("MUJOCO_GL", "egl")  # headless DeepMind Control rendering; set MUJOCO_GL to override

import gymnasium as gym
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import tyro
from torch.func import functional_call, grad, jvp, vmap
from torch.nn.utils import parameters_to_vector, vector_to_parameters
from torch.utils.tensorboard import SummaryWriter


@dataclass
class Args:
    # --- experiment ---
    exp_name: str = "rat_atari_dmc_pixels"
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
    update: Literal["ppo", "npg"] = "ppo"
    """policy step: `ppo` (clipped surrogate with Ã, Adam) or `npg` (one natural-gradient step sized by --target-kl)"""
    separate_encoders: bool = False
    """if toggled, the critic has its own CNN; otherwise actor and critic share one (with --update npg the critic then trains only its head)"""
    learning_rate: float = 2.5e-4
    """Adam learning rate (of everything with --update ppo, of the critic with --update npg), linearly annealed"""
    anneal_lr: bool = True
    """if toggled, anneal the learning rate linearly to 0"""
    update_epochs: int = 4
    """Adam epochs over the batch"""
    num_minibatches: int = 4
    """number of mini-batches per epoch (one partition per iteration, visited in a fresh order each epoch)"""
    clip_coef: Optional[float] = None
    """ppo: the surrogate clipping coefficient (default: 0.1 on Atari, 0.2 on DeepMind Control)"""
    ent_coef: Optional[float] = None
    """ppo: the entropy bonus coefficient (default: 0.01 on Atari, 0 on DeepMind Control)"""
    vf_coef: float = 0.5
    """ppo: the value loss coefficient"""
    max_grad_norm: float = 0.5
    """maximum norm of the Adam updates' gradients"""
    target_kl: float = 0.01
    """npg: the KL divergence δ one step aims at (η = sqrt(2δ / ĝᵀFĝ))"""
    line_search: bool = True
    """npg: shrink the step (up to 10 times) until the true KL ≤ δ and the surrogate improves"""
    line_search_factor: float = 0.8
    """npg: factor of each shrink (halving settles at a quarter of δ: the full step's KL is just above δ)"""

    # --- RAT ---
    transform: Literal["rat", "dense", "none"] = "rat"
    """advantage transform: `rat` (block Kaczmarz), `dense` (exact Woodbury solve), `none` (plain A: PPO from pixels)"""
    rat_lambda: float = 0.1
    """Tikhonov damping λ of (F + λI)⁻¹g"""
    rat_block_size: int = 256
    """samples per Kaczmarz block b"""
    rat_sweeps: int = 3
    """Kaczmarz sweeps over the batch (one is exact when a block holds the whole system)"""
    rat_per_minibatch: bool = True
    """ppo: solve Ã on each mini-batch's own samples, so each Adam step is that mini-batch's natural gradient (off: once on the batch)"""
    rat_factored: bool = True
    """if toggled, S_B's products come from per-layer factors of one batched backward (exact); off: torch.func materializes S_B (slow reference)"""
    rat_conv_dtype: Literal["bfloat16", "float32"] = "bfloat16"
    """dtype in which the per-sample convolution gradients are stored (their products are summed in float32): bfloat16 halves their memory and took 13-20% off the transform (benchmark/results/pixel_cost.md)"""


FAMILY_DEFAULTS = {
    "atari": dict(total_timesteps=500_000, clip_coef=0.1, ent_coef=0.01, eval_stochastic=True),
    "dm_control": dict(total_timesteps=100_000, clip_coef=0.2, ent_coef=0.0, eval_stochastic=False),
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


def cholesky(gram: torch.Tensor) -> torch.Tensor:
    """L with LLᵀ = SSᵀ/N + λI. The Gram is summed in float32, so a λ far below its round-off can leave it
    numerically indefinite; say so in one sentence rather than fail inside LAPACK."""
    factor, info = torch.linalg.cholesky_ex(gram)
    if info.any():
        raise FloatingPointError("SSᵀ/N + λI is not positive definite in floating point; raise --rat-lambda.")
    return factor


def rat_transform(score_fn, advantages: torch.Tensor, lam: float, block_size: int, sweeps: int, generator=None) -> torch.Tensor:
    """Ã = (SSᵀ/N + λI)⁻¹ A by randomized block Kaczmarz, never forming S, SSᵀ or F.

    x ← 0 (N), w ← 0 (d), keeping w = Sᵀx; each sweep visits a fresh random partition into blocks B:
        r_B = A_B − S_B w / N − λ x_B,   Δ = (S_B S_Bᵀ / N + λI)⁻¹ r_B,   x_B += Δ,   w += S_Bᵀ Δ.
    `score_fn(idx)` returns S_B, the scores ∇θ log πθ(a_i|s_i) of the samples idx: a (b, d) matrix, or a
    `FactoredScores` that computes the same three products without forming it.
    A block of the whole batch solves exactly in one step; smaller blocks converge linearly.
    """
    n = advantages.shape[0]
    transformed_adv = torch.zeros_like(advantages)  # x, (N,)
    weights = None  # w = Sᵀx, (d,)
    for _ in range(1 if block_size >= n else sweeps):  # one block of the whole batch is already exact
        for block in torch.randperm(n, generator=generator).to(advantages.device).split(block_size):
            scores = score_fn(block)  # (b, d)
            if weights is None:
                weights = scores.new_zeros(scores.shape[1])
            residual = advantages[block] - scores @ weights / n - lam * transformed_adv[block]  # (b,)
            # The b × b solve runs in float64: its condition number grows as the policy sharpens and λ is small.
            gram = (scores @ scores.T).double() / n + lam * torch.eye(len(block), dtype=torch.float64, device=scores.device)
            delta = torch.cholesky_solve(residual.double()[:, None], cholesky(gram))[:, 0].to(scores.dtype)
            transformed_adv[block] += delta
            weights += scores.T @ delta
    return transformed_adv


def dense_transform(scores, advantages: torch.Tensor, lam: float) -> torch.Tensor:
    """Ã = (SSᵀ/N + λI)⁻¹ A, the exact Woodbury solve by Cholesky: O(N²d + N³) time, O(N²) memory beside S.

    `scores` is S (N, d), or a `FactoredScores`, whose S Sᵀ never forms S."""
    n = advantages.shape[0]
    gram = (scores @ scores.T).double() / n + lam * torch.eye(n, dtype=torch.float64, device=scores.device)  # (N, N)
    return torch.cholesky_solve(advantages.double()[:, None], cholesky(gram))[:, 0].to(advantages.dtype)


class FactoredScores:
    """The score matrix S (N × d) of the policy, held as per-layer factors; S w, Sᵀ δ and S Sᵀ without forming S.

    Row i of S is ∇θ log πθ(a_i|s_i). A Linear layer y = Wx + b with input x_i and output gradient
    g_i = ∂ log π_i / ∂ y_i contributes vec(g_i x_iᵀ) and g_i to row i, so over the Linear layers ℓ
        (S Sᵀ)_ij = Σ_ℓ (x_i·x_j)(g_i·g_j) + g_i·g_j,   (S w)_i = Σ_ℓ g_iᵀ W_ℓ x_i + g_i·b_ℓ,   Sᵀδ = Σ_ℓ (Gᵀ diag(δ) X, Gᵀδ),
    with W_ℓ, b_ℓ the parts of w for that layer: b(in + out) numbers per sample instead of b·in·out. The other
    parameters (convolutions, log σ: about 5% of the Nature CNN's) are materialized as rows R, adding R Rᵀ, R w, Rᵀδ;
    R may be stored in a lower precision (`row_dtype`); its products are summed and returned in the dtype of the
    network, so S_B S_Bᵀ is the exact Gram of the stored rows up to float32 round-off. (A Gram rounded to bfloat16
    is not positive semidefinite, and on a trained policy it can be indefinite by more than λ.)
    `scores(idx)` is S_B, the same factors restricted to the rows idx; `.T` marks the transpose, so
    `S_B @ w`, `S_B.T @ δ` and `S_B @ S_B.T` read as the matrix products they compute.
    """

    def __init__(self, rows, row_positions, linear, num_params: int, transposed: bool = False):
        self.rows = rows  # R, (N, d_R), in float32 or bfloat16
        self.row_positions = row_positions  # where each column of R sits in θ, (d_R,)
        self.linear = linear  # per Linear layer: inputs X (N, in), output gradients G (N, out), weight and bias slices of θ
        self.num_params, self.transposed = num_params, transposed
        self.shape = (num_params, len(rows)) if transposed else (len(rows), num_params)
        self.dtype, self.device = linear[0][0].dtype, rows.device

    @classmethod
    def of_batch(cls, agent: Agent, obs: torch.Tensor, actions: torch.Tensor, row_dtype=None, chunk_size: int = 256) -> "FactoredScores":
        """The factors of S from one forward and backward of Σᵢ log πθ(a_i|s_i), chunk by chunk; hooks record each
        layer's input and output, and autograd returns only the output gradients (no parameter gradients).

        Conv2d: ∇_W log π_i = G_i U_iᵀ, with G_i (out, L) the output gradient and U_i = unfold(x_i) (C·k·k, L).
        LogStd: ∇ log σ of sample i is the output gradient of its row of the expanded log σ."""
        params = agent.policy_parameters()
        offsets = np.cumsum([0] + [p.numel() for p in params.values()])
        span = {p: (int(start), int(stop)) for p, start, stop in zip(params.values(), offsets[:-1], offsets[1:])}
        layers = [m for name, m in agent.named_modules() if name.startswith(("encoder.", "actor"))
                  and isinstance(m, (nn.Linear, nn.Conv2d, LogStd))]
        linear_layers = [m for m in layers if isinstance(m, nn.Linear)]
        row_params = [p for m in layers if not isinstance(m, nn.Linear)
                      for p in ((m.weight, m.bias) if isinstance(m, nn.Conv2d) else (m.log_std,))]
        if sum(p.numel() for m in linear_layers for p in (m.weight, m.bias)) + sum(p.numel() for p in row_params) != offsets[-1]:
            raise NotImplementedError("the policy has a layer without a per-layer identity; use --no-rat-factored.")
        n, like = len(obs), next(agent.parameters())
        rows = like.new_empty(n, sum(p.numel() for p in row_params), dtype=row_dtype or like.dtype)  # R, filled chunk by chunk
        inputs = [like.new_empty(n, m.in_features) for m in linear_layers]  # X per Linear layer
        out_grads = [like.new_empty(n, m.out_features) for m in linear_layers]  # G per Linear layer
        captured = {}
        hooks = [m.register_forward_hook(lambda module, inputs, output: captured.__setitem__(module, (inputs[0], output)))
                 for m in layers]
        try:
            for chunk in (slice(start, start + chunk_size) for start in range(0, n, chunk_size)):
                log_prob = agent(obs[chunk]).log_prob(actions[chunk])
                column, linear_layer = 0, 0
                for module, out_grad in zip(layers, torch.autograd.grad(log_prob.sum(), [captured[m][1] for m in layers])):
                    layer_input = captured[module][0].detach()
                    if isinstance(module, nn.Linear):
                        inputs[linear_layer][chunk], out_grads[linear_layer][chunk] = layer_input, out_grad
                        linear_layer += 1
                        continue
                    if isinstance(module, nn.Conv2d):
                        unfolded = F.unfold(layer_input.to(rows.dtype), module.kernel_size, module.dilation, module.padding, module.stride)  # (n, C·k·k, L)
                        out_grad = out_grad.flatten(2).to(rows.dtype)  # (n, out, L)
                        per_sample = [(out_grad @ unfolded.transpose(1, 2)).flatten(1), out_grad.sum(2)]  # ∇W (n, out·C·k·k), ∇b (n, out)
                    else:
                        per_sample = [out_grad]  # ∇ log σ, (n, act_dim)
                    for block in per_sample:
                        rows[chunk, column:column + block.shape[1]] = block
                        column += block.shape[1]
        finally:
            for hook in hooks:
                hook.remove()
        row_positions = torch.cat([torch.arange(*span[p], device=obs.device) for p in row_params])
        linear = [(x, g, slice(*span[m.weight]), slice(*span[m.bias])) for x, g, m in zip(inputs, out_grads, linear_layers)]
        return cls(rows, row_positions, linear, int(offsets[-1]))

    def __call__(self, idx: torch.Tensor) -> "FactoredScores":
        """S_B: the rows idx, R's upcast once here to the network's dtype for the block's three products."""
        return FactoredScores(self.rows[idx].to(self.dtype), self.row_positions, [(x[idx], g[idx], ws, bs) for x, g, ws, bs in self.linear], self.num_params)

    @property
    def T(self) -> "FactoredScores":
        return FactoredScores(self.rows, self.row_positions, self.linear, self.num_params, not self.transposed)

    def new_zeros(self, *size):
        return torch.zeros(*size, dtype=self.dtype, device=self.device)

    def __matmul__(self, other):
        if isinstance(other, FactoredScores):  # S_B S_Cᵀ, (b, c)
            if self.transposed or not other.transposed:
                raise ValueError("FactoredScores multiplies S_B by S_Cᵀ, never the d × d SᵀS.")
            product = self.rows.to(self.dtype) @ other.rows.to(self.dtype).T
            for (x, g, _, _), (other_x, other_g, _, _) in zip(self.linear, other.linear):
                g_dot = g @ other_g.T
                product += (x @ other_x.T) * g_dot + g_dot
            return product
        if self.transposed:  # Sᵀ δ, (d,)
            delta = other
            result = delta.new_zeros(self.num_params)
            result[self.row_positions] = self.rows.T.to(self.dtype) @ delta
            for x, g, weight, bias in self.linear:
                result[weight] = ((g * delta[:, None]).T @ x).flatten()  # Σ_i δ_i g_i x_iᵀ, (out, in)
                result[bias] = g.T @ delta
            return result
        w = other  # S w, (b,)
        result = self.rows.to(self.dtype) @ w[self.row_positions]
        for x, g, weight, bias in self.linear:
            result += ((g @ w[weight].view(g.shape[1], x.shape[1])) * x).sum(1) + g @ w[bias]
        return result


def make_score_fn(agent: Agent, obs: torch.Tensor, actions: torch.Tensor):
    """score_fn(idx) = S[idx], materialized: per-sample ∇θ log πθ(a_i|s_i) over the policy's parameters (torch.func)."""
    params = {name: p.detach() for name, p in agent.policy_parameters().items()}

    def log_prob(params, obs_i, action_i):
        return functional_call(agent, params, (obs_i[None],)).log_prob(action_i[None]).sum()

    per_sample_grads = vmap(grad(log_prob), in_dims=(None, 0, 0))

    def score_fn(idx: torch.Tensor) -> torch.Tensor:
        grads = per_sample_grads(params, obs[idx], actions[idx])
        return torch.cat([g.reshape(len(idx), -1) for g in grads.values()], dim=1)  # (b, d)

    return score_fn


def score_product(agent: Agent, obs: torch.Tensor, actions: torch.Tensor, direction: list) -> torch.Tensor:
    """S v, the derivative of every log πθ(a_i|s_i) along v: one forward-mode pass over the batch, (N,)."""
    params = {name: p.detach() for name, p in agent.policy_parameters().items()}
    tangents = dict(zip(params, direction))
    _, s_v = jvp(lambda p: functional_call(agent, p, (obs,)).log_prob(actions), (params,), (tangents,))
    return s_v


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


def npg_step(agent: Agent, obs, actions, advantages, transformed_adv, target_kl: float, line_search: bool, shrink: float = 0.8) -> dict:
    """Natural-gradient step θ ← θ + η ĝ with ĝ = ∇θ mean(Ã · log πθ) = (F + λI)⁻¹ g (direct backpropagation).

    η = sqrt(2δ / ĝᵀFĝ), the Fisher quadratic ĝᵀFĝ = ‖Sĝ‖²/N taken exactly by one Jacobian-vector product.
    With the line search, η shrinks by `shrink` until the true mean KL ≤ δ and the surrogate mean(ratio · A) improves;
    if no step passes, the old parameters are put back."""
    params = list(agent.policy_parameters().values())
    with torch.no_grad():
        old_dist = agent(obs)
        old_log_prob = old_dist.log_prob(actions)
    log_prob = agent(obs).log_prob(actions)
    direction = torch.autograd.grad((transformed_adv * log_prob).mean(), params)
    scores_direction = score_product(agent, obs, actions, direction)  # S ĝ, (N,)
    fisher_quad = scores_direction.pow(2).mean()
    if not torch.isfinite(fisher_quad):
        raise FloatingPointError("the natural-gradient direction is not finite; raise --rat-lambda or lower --target-kl.")
    step_size = torch.sqrt(2 * target_kl / fisher_quad) if fisher_quad > 0 else torch.zeros(())
    old_params, flat_direction = parameters_to_vector(params).detach(), parameters_to_vector(direction)
    stats = dict(fisher_quad=fisher_quad.item(), scores_direction=scores_direction, accepted=0.0)
    for backtrack in range(10 if line_search else 1):
        fraction = shrink**backtrack
        vector_to_parameters(old_params + fraction * step_size * flat_direction, params)
        with torch.no_grad():
            dist = agent(obs)
            kl = torch.distributions.kl_divergence(old_dist, dist).mean().item()
            improvement = ((dist.log_prob(actions) - old_log_prob).exp() * advantages).mean().item() - advantages.mean().item()
        if not line_search or (kl <= target_kl and improvement > 0):
            return dict(stats, kl=kl, improvement=improvement, step_size=fraction * step_size.item(), accepted=1.0, backtracks=backtrack)
    vector_to_parameters(old_params, params)
    return dict(stats, kl=0.0, improvement=0.0, step_size=0.0, backtracks=10)


def minibatch_updates(agent: Agent, optimizer, batch: dict, minibatches: list, args: Args) -> dict:
    """Adam epochs over the mini-batches. ppo: −min(ρÃ, clip(ρ, 1 ± ε)Ã) − c_H H(π) + c_V ½(V(s) − R)²,
    ρ = πθ(a|s) / πθ_old(a|s), over all parameters; npg: ½(V(s) − R)² over the critic's own parameters."""
    params = optimizer.param_groups[0]["params"]
    value_losses, policy_losses, entropies, clip_fracs, kls = [], [], [], [], []
    for _ in range(args.update_epochs):
        kls = []
        for k in torch.randperm(len(minibatches)).tolist():
            mb = minibatches[k]
            if args.update == "ppo":
                dist, value = agent.policy_and_value(batch["obs"][mb])
                log_ratio = dist.log_prob(batch["actions"][mb]) - batch["log_probs"][mb]
                ratio, adv = log_ratio.exp(), batch["transformed_adv"][mb]
                policy_loss = -torch.min(ratio * adv, ratio.clamp(1 - args.clip_coef, 1 + args.clip_coef) * adv).mean()
                entropy = dist.entropy().mean()
                value_loss = 0.5 * (value - batch["returns"][mb]).pow(2).mean()
                loss = policy_loss - args.ent_coef * entropy + args.vf_coef * value_loss
                policy_losses.append(policy_loss.item())
                entropies.append(entropy.item())
                clip_fracs.append(((ratio - 1).abs() > args.clip_coef).float().mean().item())
                kls.append(((ratio - 1) - log_ratio).mean().item())  # KL(π_old ‖ πθ), Schulman's k3 estimator
            else:
                loss = value_loss = 0.5 * (agent.value(batch["obs"][mb]) - batch["returns"][mb]).pow(2).mean()
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(params, args.max_grad_norm)
            optimizer.step()
            value_losses.append(value_loss.item())
    stats = dict(value_loss=float(np.mean(value_losses)))
    if policy_losses:
        stats.update(policy_loss=float(np.mean(policy_losses)), entropy=float(np.mean(entropies)),
                     clip_frac=float(np.mean(clip_fracs)), kl=float(np.mean(kls)))
    return stats


def transform_advantages(agent: Agent, batch: dict, adv: torch.Tensor, minibatches: list, args: Args) -> torch.Tensor:
    """Ã of the batch; with ppo and --rat-per-minibatch, one solve per mini-batch on that mini-batch's scores alone.

    ppo rescales each solve's Ã to unit RMS like A: the direction is Ã's, the step's scale PPO's (λ → ∞ gives A,
    rescaled to unit RMS on each group it was solved on)."""
    if args.rat_factored:
        score_fn = FactoredScores.of_batch(agent, batch["obs"], batch["actions"], getattr(torch, args.rat_conv_dtype))
    else:
        score_fn = make_score_fn(agent, batch["obs"], batch["actions"])
    groups = minibatches if args.update == "ppo" and args.rat_per_minibatch else [torch.arange(len(adv), device=adv.device)]
    transformed_adv = torch.empty_like(adv)
    for group in groups:
        if args.transform == "rat":
            solved = rat_transform(lambda idx: score_fn(group[idx]), adv[group], args.rat_lambda, args.rat_block_size, args.rat_sweeps)
        else:
            solved = dense_transform(score_fn(group), adv[group], args.rat_lambda)
        scale = solved.pow(2).mean().sqrt()
        transformed_adv[group] = solved / scale if args.update == "ppo" and scale > 0 else solved
    if not torch.isfinite(transformed_adv).all():
        raise FloatingPointError("the advantage transform is not finite; raise --rat-lambda.")
    return transformed_adv


# ---------------------------------------------------------------------------- checkpoints and evaluation


def save_checkpoint(path: str, agent, optimizer, reward_scaler, args: Args, run_name: str, global_step: int, iteration: int) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    checkpoint = {
        "script": "rat_atari_dmc_pixels",
        "env_id": args.env_id,
        "run_name": run_name,
        "args": dataclasses.asdict(args),
        "global_step": global_step,
        "iteration": iteration,
        "agent": agent.state_dict(),
        "optimizer": optimizer.state_dict(),
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
    if not isinstance(checkpoint, dict) or checkpoint.get("script") != "rat_atari_dmc_pixels":
        sys.exit(f"error: {path!r} was not written by rat_atari_dmc_pixels.py.")
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
        (args.rat_lambda <= 0, f"--rat-lambda must be > 0 (got {args.rat_lambda}); λ = 0.1 is the default damping."),
        (args.rat_block_size < 1, f"--rat-block-size must be ≥ 1 (got {args.rat_block_size})."),
        (args.rat_sweeps < 1, f"--rat-sweeps must be ≥ 1 (got {args.rat_sweeps})."),
        (args.target_kl <= 0, f"--target-kl must be > 0 (got {args.target_kl})."),
        (not 0 < args.line_search_factor < 1, f"--line-search-factor must lie in (0, 1) (got {args.line_search_factor})."),
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
    trained = agent.parameters() if args.update == "ppo" else agent.critic_parameters()
    optimizer = torch.optim.Adam(trained, lr=args.learning_rate, eps=1e-5)
    batch_size = args.num_envs * args.num_steps
    num_iterations = args.total_timesteps // batch_size
    global_step, start_iteration = 0, 1
    if checkpoint:
        try:
            agent.load_state_dict(checkpoint["agent"])
            optimizer.load_state_dict(checkpoint["optimizer"])
        except (RuntimeError, ValueError, KeyError):
            sys.exit(f"error: {args.resume!r} does not fit this run's network; resume with the --update and --separate-encoders it was trained with.")
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
    log_probs, rewards, dones, values = (torch.zeros((args.num_steps, args.num_envs), device=device) for _ in range(4))
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
                    log_probs[step] = dist.log_prob(action)
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
                         log_probs=log_probs.reshape(-1), returns=returns.reshape(-1))
            adv = advantages.reshape(-1)
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)  # A, normalized: the right-hand side of the transform
            # One partition per iteration, kept over the epochs: a per-mini-batch Ã belongs to its samples.
            minibatches = torch.randperm(batch_size, device=device).split(batch_size // args.num_minibatches)
            transformed_adv = adv if args.transform == "none" else transform_advantages(agent, batch, adv, minibatches, args)
            transform_seconds = time.time() - update_start
            batch["transformed_adv"] = transformed_adv

            stats = {}
            if args.update == "npg":
                stats = npg_step(agent, batch["obs"], batch["actions"], adv, transformed_adv, args.target_kl, args.line_search, args.line_search_factor)
                if args.transform != "none":  # S ĝ = A − λÃ exactly when Ã solves the system
                    stats["relative_residual"] = ((adv - stats["scores_direction"] - args.rat_lambda * transformed_adv).norm() / adv.norm().clamp_min(1e-12)).item()
                del stats["scores_direction"]
            stats.update(minibatch_updates(agent, optimizer, batch, minibatches, args))
            update_seconds = time.time() - update_start
            if not all(torch.isfinite(p).all() for p in agent.parameters()):
                raise FloatingPointError("the update made the network's weights non-finite; lower --target-kl or --learning-rate.")

            sps = int((global_step - start_step) / (time.time() - start_time))
            for key, value in stats.items():
                writer.add_scalar(f"{'losses' if key.endswith('loss') else 'policy'}/{key}", value, global_step)
            writer.add_scalar("charts/SPS", sps, global_step)
            writer.add_scalar("charts/learning_rate", optimizer.param_groups[0]["lr"], global_step)
            writer.add_scalar("time/transform_seconds", transform_seconds, global_step)
            writer.add_scalar("time/update_seconds", update_seconds, global_step)
            if time.time() - last_print > 10 or iteration == num_iterations:
                last_print = time.time()
                recent = f"{np.mean(episode_returns[-20:]):8.1f}" if episode_returns else "       -"
                print(f"step {global_step:>8}/{args.total_timesteps} | return {recent} | SPS {sps:>5} | "
                      f"kl {stats['kl']:.4f} | transform {transform_seconds:.2f}s / update {update_seconds:.2f}s", flush=True)
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
