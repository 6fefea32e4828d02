"""RAT — Randomized Advantage Transformation — for continuous control from states.

Natural policy gradients by plain backpropagation. By the Woodbury identity the
Tikhonov-regularized natural gradient is a vanilla policy gradient with transformed advantages:

    (F + λI)⁻¹ g = Sᵀ Ã / N,     Ã = (SSᵀ/N + λI)⁻¹ A,

S (N × d) being the per-sample scores ∇θ log πθ(a_i|s_i) of the batch. `rat_transform` solves for
Ã with randomized block Kaczmarz sweeps over mini-batches of scores, never forming S, SSᵀ or the
Fisher F; `npg_step` then backpropagates mean(Ã · log πθ) and takes a KL-sized step.

Gymnasium MuJoCo (`HalfCheetah-v5`, ...) and DeepMind Control state tasks (`dm_control/cheetah-run-v0`).
Usage:  python rat_continuous_action.py --env-id Hopper-v5 --seed 1
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

os.environ.setdefault("MUJOCO_GL", "egl")  # headless rendering for videos; set MUJOCO_GL to override

import gymnasium as gym
import mujoco
import numpy as np
import torch
import torch.nn as nn
import tyro
from torch.func import functional_call, grad, jvp, vmap
from torch.nn.utils import parameters_to_vector, vector_to_parameters
from torch.utils.tensorboard import SummaryWriter


@dataclass
class Args:
    # --- experiment ---
    exp_name: str = "rat_continuous_action"
    """the name of this experiment (part of the run name)"""
    seed: int = 1
    """seed of the experiment: two CPU runs with the same seed and --torch-threads give identical results"""
    torch_deterministic: bool = True
    """if toggled, `torch.backends.cudnn.deterministic=True`"""
    cuda: bool = True
    """if toggled, use a GPU when one is present (the CPU otherwise)"""
    torch_threads: int = 1
    """CPU threads of torch: one is fastest for these small networks, and more stall when the cores are busy"""
    capture_video: bool = False
    """if toggled, save videos of the agent to `videos/`: training env 0 on Gymnasium's schedule (episodes 0, 1, 8, 27, …), every evaluated episode"""
    fast_render: bool = True
    """if toggled, videos render without multisampling and shadows (benchmark/render_speed.py: ×5 frames/s on a CPU)"""
    save_model: bool = False
    """if toggled, save a checkpoint at the end of training to `runs/{run_name}/checkpoint.pt` and evaluate it"""
    checkpoint_every: int = 0
    """save a checkpoint every this many iterations (0: never; Ctrl-C always saves one)"""
    resume: Optional[str] = None
    """path of a checkpoint to continue training from, with its flags; only --total-timesteps, --checkpoint-every, --save-model, --cuda, --torch-threads and --capture-video may change"""
    eval_checkpoint: Optional[str] = None
    """path of a checkpoint to evaluate instead of training"""
    eval_episodes: int = 10
    """number of episodes of an evaluation"""
    eval_stochastic: bool = False
    """if toggled, evaluation samples actions instead of taking the Gaussian mean"""

    # --- environment ---
    env_id: str = "HalfCheetah-v5"
    """Gymnasium id of a continuous-action task: MuJoCo (`Hopper-v5`) or DeepMind Control (`dm_control/cheetah-run-v0`)"""
    total_timesteps: int = 1_000_000
    """total environment steps of the run"""
    num_envs: int = 1
    """number of parallel environments"""
    num_steps: int = 2048
    """steps per environment per rollout (the batch is num_envs * num_steps)"""
    gamma: float = 0.99
    """discount factor γ"""
    final_gamma: Optional[float] = None
    """if set, γ rises linearly from --gamma to this over the run, so the horizon 1/(1−γ) the advantages look ahead grows as the policy improves (the reward scaler keeps --gamma). In the README's runs 0.995 lifted Hopper's seeds 1-3 above the bar, without the early standing-still trap of γ 0.995 throughout, but not seeds 4-6, and left Walker2d below it. None: γ stays --gamma"""
    gae_lambda: float = 0.95
    """λ of generalized advantage estimation"""

    # --- algorithm ---
    update: Literal["npg", "ppo", "npg-ppo"] = "npg"
    """policy step: `npg` (--npg-steps natural-gradient steps, each sized by --target-kl), `ppo` (PPO's clipped surrogate on mini-batch slices of the batch's Ã; it collapsed on Hopper in our measurements) or `npg-ppo` (the natural steps, then PPO's clipped surrogate with the plain advantages A over the critic's epochs and mini-batches, ratios against the batch's policy)"""
    target_kl: float = 0.04
    """npg: the KL divergence δ one step aims at (η = sqrt(2δ / ĝᵀFĝ)); with σ starting at 0.37, 0.04 had a better mean return relative to the bar over Hopper, Walker2d and HalfCheetah than 0.03 in the README's ablation (3 seeds), though worse on Hopper"""
    npg_steps: int = 1
    """npg: natural steps per batch; each after the first re-solves Ã at the moved policy for the importance-weighted advantages ρA and takes another step of KL δ, so the policy may end about K²δ from the batch's (in the README's ablation 2 steps helped on Hopper and Walker2d but held HalfCheetah near 1,600)"""
    anneal_target_kl: bool = False
    """npg: if toggled, shrink δ linearly to 0 over the run, as --anneal-lr does the learning rates (the same as --final-target-kl 0)"""
    final_target_kl: Optional[float] = None
    """npg: if set, δ moves linearly from --target-kl to this over the run: large early steps while the policy is far from good, small late ones while it is refined. None: δ stays --target-kl"""
    max_kl_factor: Optional[float] = None
    """npg: if set, the line search also shrinks the step until no state of the batch moves by a KL above this × δ. δ bounds the mean over states, which lets a step move rarely visited states, such as an episode's first steps, far more: one step at δ 0.04 from a Hopper policy moved its batch's most-moved state 27× the mean, a vanilla-gradient step 4× (benchmark/step_quality.py; policy/max_kl logs it). None: the mean alone"""
    line_search: bool = True
    """npg: try the full step and up to 9 shrinks of it until the true KL from the step's starting policy ≤ δ and the surrogate improves"""
    line_search_factor: float = 0.8
    """npg: factor f of each shrink; the full step's KL usually lands just above δ, so f = 0.5 takes steps of about δ/4, f = 0.8 about 0.64δ"""
    log_std_init: float = -1.0
    """initial log σ of the Gaussian policy's state-independent noise (-1: σ = 0.37 in every action dimension; 0: σ = 1). In the README's ablation σ 0.37 kept every HalfCheetah seed off the plateau near 1,700 where σ 1 left two of three, and cost one Walker2d seed of three"""
    ent_coef: float = 0.0
    """entropy bonus c: the normalized advantages get −c·(log π(a|s) − its batch mean), whose policy gradient is c·∇(entropy), so the bonus passes through the transform like any advantage (0: none)"""
    critic_hidden: int = 64
    """width of the critic's two hidden layers (the actor stays 64-64)"""
    learning_rate: float = 3e-4
    """Adam learning rate of the critic (and of the actor with --update ppo or npg-ppo), linearly annealed"""
    anneal_lr: bool = True
    """if toggled, anneal the learning rates linearly to 0"""
    update_epochs: int = 10
    """epochs over the batch for the critic (and the actor with --update ppo or npg-ppo)"""
    num_minibatches: int = 32
    """number of mini-batches per epoch"""
    clip_coef: float = 0.2
    """ppo and npg-ppo: the surrogate clipping coefficient"""
    max_grad_norm: float = 0.5
    """maximum norm of the Adam updates' gradients"""

    # --- RAT ---
    transform: Literal["rat", "dense", "none"] = "rat"
    """advantage transform: `rat` (block Kaczmarz), `dense` (exact Woodbury solve, O(N²d)), `none` (plain A: a vanilla gradient step sized by the KL)"""
    rat_lambda: float = 1.0
    """Tikhonov damping λ of (F + λI)⁻¹g: small λ fits the batch's noisy advantages (benchmark/step_quality.py); see the README's ablation"""
    rat_block_size: int = 256
    """samples per Kaczmarz block b"""
    rat_sweeps: int = 3
    """Kaczmarz sweeps over the batch"""
    rat_factored: bool = True
    """on (default): S_B's products come from per-layer factors of one batched backward, exactly (benchmark/results/transform_cost.md); `--no-rat-factored`: torch.func materializes S_B every sweep, the slow reference"""


# ---------------------------------------------------------------------------- environment


def setup_video_rendering(env: gym.Env, fast_render: bool) -> None:
    """Make recorded episodes watchable, and affordable on a CPU."""
    dm_env = getattr(env.unwrapped, "_env", None)  # DeepMind Control through shimmy
    model = dm_env.physics.model if dm_env is not None else getattr(env.unwrapped, "model", None)
    if model is None:  # not a MuJoCo task: its own renderer is used as it is
        return
    if fast_render:  # 4× multisampling and shadows make CPU (EGL/Mesa) rendering ~10× slower
        model.vis.quality.offsamples, model.vis.quality.shadowsize = 0, 0
    renderer = getattr(env.unwrapped, "mujoco_renderer", None)
    track_camera = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, "track")
    if renderer is not None and track_camera != -1:
        # Gymnasium renders from a free camera that a runner leaves behind; the model's "track" camera follows it.
        renderer.camera_id = track_camera


def make_env(env_id: str, video_folder: Optional[str] = None, fast_render: bool = True, every_episode: bool = True):
    def thunk():
        env = gym.make(env_id, render_mode="rgb_array" if video_folder else None)
        if video_folder:
            setup_video_rendering(env, fast_render)
        if isinstance(env.observation_space, gym.spaces.Dict):  # DeepMind Control state tasks
            env = gym.wrappers.FlattenObservation(env)
        env = gym.wrappers.ClipAction(env)
        if video_folder:
            # every evaluated episode; in training Gymnasium's schedule (episodes 0, 1, 8, 27, …, 1000, then every 1000th)
            env = gym.wrappers.RecordVideo(env, video_folder, episode_trigger=(lambda episode: True) if every_episode else None)
        return env

    return thunk


def check_env_id(env_id: str) -> None:
    """Stop with one sentence if `env_id` is not a continuous-action Gymnasium task."""
    if env_id.startswith("dm_control/"):
        import shimmy

        gym.register_envs(shimmy)
    try:
        env = gym.make(env_id)
    except gym.error.Error as error:
        sys.exit(f"error: unknown --env-id {env_id!r} ({error}); try HalfCheetah-v5 or dm_control/cheetah-run-v0.")
    action_space = env.action_space
    env.close()
    if not isinstance(action_space, gym.spaces.Box):
        sys.exit(f"error: --env-id {env_id!r} has {action_space} actions; this script needs continuous (Box) actions.")


def make_envs(args: Args, run_name: str):
    """Vector env that auto-resets within the step; raw episode returns, then reward scaling and clipping."""
    video_folder = f"videos/{run_name}" if args.capture_video else None
    envs = gym.vector.SyncVectorEnv(
        [make_env(args.env_id, video_folder if i == 0 else None, args.fast_render, every_episode=False) for i in range(args.num_envs)],
        autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,
    )
    envs = gym.wrappers.vector.RecordEpisodeStatistics(envs)
    reward_scaler = envs = gym.wrappers.vector.NormalizeReward(envs, gamma=args.gamma)
    envs = gym.wrappers.vector.ClipReward(envs, -10.0, 10.0)
    return envs, reward_scaler


# ---------------------------------------------------------------------------- networks


def layer_init(layer: nn.Linear, std: float = math.sqrt(2), bias_const: float = 0.0) -> nn.Linear:
    torch.nn.init.orthogonal_(layer.weight, std)
    torch.nn.init.constant_(layer.bias, bias_const)
    return layer


def mlp(in_dim: int, out_dim: int, out_std: float, hidden: int = 64) -> nn.Sequential:
    return nn.Sequential(
        layer_init(nn.Linear(in_dim, hidden)), nn.Tanh(),
        layer_init(nn.Linear(hidden, hidden)), nn.Tanh(),
        layer_init(nn.Linear(hidden, out_dim), std=out_std),
    )


class ObsNormalizer(nn.Module):
    """Running mean and variance of observations; normalizes and clips to [-10, 10].

    Kept as buffers of the agent, so every checkpoint carries the statistics its policy was trained on."""

    def __init__(self, obs_dim: int, epsilon: float = 1e-8):
        super().__init__()
        self.epsilon = epsilon
        self.register_buffer("mean", torch.zeros(obs_dim, dtype=torch.float64))
        self.register_buffer("var", torch.ones(obs_dim, dtype=torch.float64))
        self.register_buffer("count", torch.tensor(epsilon, dtype=torch.float64))

    def update(self, obs: torch.Tensor) -> None:
        """Chan et al.'s parallel update of mean and variance with a batch (B, obs_dim)."""
        obs = obs.double()
        batch_mean, batch_var, batch_count = obs.mean(0), obs.var(0, unbiased=False), obs.shape[0]
        delta, total = batch_mean - self.mean, self.count + batch_count
        self.mean += delta * batch_count / total
        self.var.copy_((self.var * self.count + batch_var * batch_count + delta**2 * self.count * batch_count / total) / total)
        self.count.copy_(total)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return ((obs.double() - self.mean) / torch.sqrt(self.var + self.epsilon)).clamp(-10, 10).float()


class Actor(nn.Module):
    """Diagonal Gaussian policy πθ(a|s) = N(μθ(s), diag(σ²)) with a state-independent log σ."""

    def __init__(self, obs_dim: int, act_dim: int, log_std_init: float = 0.0):
        super().__init__()
        self.mean = mlp(obs_dim, act_dim, out_std=0.01)
        self.log_std = nn.Parameter(torch.full((act_dim,), log_std_init))

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean = self.mean(obs)
        return mean, self.log_std.expand_as(mean)


class Agent(nn.Module):
    """Separate actor and critic MLPs (64-64 tanh; the critic's width may differ) over normalized observations."""

    def __init__(self, obs_dim: int, act_dim: int, log_std_init: float = 0.0, critic_hidden: int = 64):
        super().__init__()
        self.obs_normalizer = ObsNormalizer(obs_dim)
        self.actor = Actor(obs_dim, act_dim, log_std_init)
        self.critic = mlp(obs_dim, 1, out_std=1.0, hidden=critic_hidden)

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.critic(obs).squeeze(-1)


def gaussian_log_prob(mean: torch.Tensor, log_std: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
    """log π(a|s) = Σ_j −(a_j − μ_j)² / (2σ_j²) − log σ_j − ½ log 2π, summed over action dimensions."""
    return (-0.5 * ((action - mean) / log_std.exp()) ** 2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)


def gaussian_kl(mean0, log_std0, mean1, log_std1) -> torch.Tensor:
    """KL(π0 ‖ π1) per state = Σ_j log σ1/σ0 + (σ0² + (μ0 − μ1)²) / (2σ1²) − ½."""
    var0, var1 = (2 * log_std0).exp(), (2 * log_std1).exp()
    return (log_std1 - log_std0 + (var0 + (mean0 - mean1) ** 2) / (2 * var1) - 0.5).sum(-1)


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
    `score_fn(idx)` returns the (len(idx), d) scores ∇θ log πθ(a_i|s_i) of the samples idx, materialized (make_score_fn)
    or as FactoredScores, which computes the same three products from per-layer factors.
    A block of the whole batch solves exactly in one step; smaller blocks converge linearly.
    """
    n = advantages.shape[0]
    transformed_adv = torch.zeros_like(advantages)  # x, (N,)
    weights = None  # w = Sᵀx, (d,)
    for _ in range(sweeps):
        for block in torch.randperm(n, generator=generator).to(advantages.device).split(block_size):
            scores = score_fn(block)  # (b, d)
            if weights is None:
                weights = scores.new_zeros(scores.shape[1])
            residual = advantages[block] - scores @ weights / n - lam * transformed_adv[block]  # (b,)
            # The b × b factorization runs in float64: the system's condition number grows as σ shrinks and λ is small.
            gram = (scores @ scores.T).double() / n + lam * torch.eye(len(block), dtype=torch.float64, device=scores.device)
            delta = torch.cholesky_solve(residual.double()[:, None], cholesky(gram))[:, 0].to(scores.dtype)
            transformed_adv[block] += delta
            weights += scores.T @ delta
    return transformed_adv


def dense_transform(scores: torch.Tensor, advantages: torch.Tensor, lam: float) -> torch.Tensor:
    """Ã = (SSᵀ/N + λI)⁻¹ A, the exact Woodbury solve by Cholesky: O(N²d + N³) time, O(Nd + N²) memory."""
    n = advantages.shape[0]
    gram = (scores @ scores.T).double() / n + lam * torch.eye(n, dtype=torch.float64, device=scores.device)  # (N, N)
    return torch.cholesky_solve(advantages.double()[:, None], cholesky(gram))[:, 0].to(advantages.dtype)


def make_score_fn(actor: Actor, obs: torch.Tensor, actions: torch.Tensor):
    """score_fn(idx) = S[idx]: per-sample ∇θ log πθ(a_i|s_i) over the actor's parameters (torch.func vmap of grad)."""
    params = {name: p.detach() for name, p in actor.named_parameters()}

    def log_prob(params, obs_i, action_i):
        mean, log_std = functional_call(actor, params, (obs_i[None],))
        return gaussian_log_prob(mean, log_std, action_i[None]).sum()

    per_sample_grads = vmap(grad(log_prob), in_dims=(None, 0, 0))

    def score_fn(idx: torch.Tensor) -> torch.Tensor:
        grads = per_sample_grads(params, obs[idx], actions[idx])
        return torch.cat([g.reshape(len(idx), -1) for g in grads.values()], dim=1)  # (b, d)

    return score_fn


class FactoredScores:
    """The score matrix S (N × d) of the actor, held as per-layer factors; S w, Sᵀ δ and S Sᵀ without forming S.

    Row i of S is ∇θ log πθ(a_i|s_i). A Linear layer y = Wx + b with input x_i and output gradient
    g_i = ∂ log π_i / ∂ y_i contributes vec(g_i x_iᵀ) and g_i to row i; the log σ columns,
    r_i = ∂ log π_i / ∂ log σ = (a_i − μ_i)² / σ² − 1, are kept as rows R (N × act_dim). So, over the Linear layers ℓ,
        (S Sᵀ)_ij = r_i·r_j + Σ_ℓ (x_i·x_j + 1)(g_i·g_j),   (S w)_i = r_i·w_σ + Σ_ℓ g_iᵀ W_ℓ x_i + g_i·b_ℓ,
        Sᵀδ = (Rᵀδ, and per layer Gᵀ diag(δ) X and Gᵀδ), stacked in θ's order,
    with w_σ, W_ℓ, b_ℓ the parts of w for those parameters: in + out numbers per sample and layer instead of in·out.
    `scores(idx)` is S_B, the same factors restricted to the rows idx, and `.T` marks the transpose, so
    rat_transform's `S_B @ w`, `S_B.T @ δ` and `S_B @ S_B.T` compute exactly what they do on a materialized S_B.
    """

    def __init__(self, rows, row_positions, linear, num_params: int, transposed: bool = False):
        self.rows, self.row_positions = rows, row_positions  # R (N, act_dim) and where its columns sit in θ
        self.linear = linear  # per Linear layer: inputs X (N, in), output gradients G (N, out), weight and bias slices of θ
        self.num_params, self.transposed = num_params, transposed
        self.shape = (num_params, len(rows)) if transposed else (len(rows), num_params)
        self.dtype, self.device = rows.dtype, rows.device

    @classmethod
    def of_batch(cls, actor: Actor, obs: torch.Tensor, actions: torch.Tensor) -> "FactoredScores":
        """The factors from one forward and backward of Σᵢ log πθ(a_i|s_i): hooks record each Linear layer's input
        and output, and autograd returns the output gradients (and log σ's, per sample), no parameter gradient."""
        offsets = np.cumsum([0] + [p.numel() for p in actor.parameters()])
        span = {p: slice(int(start), int(stop)) for p, start, stop in zip(actor.parameters(), offsets[:-1], offsets[1:])}
        layers = [m for m in actor.mean if isinstance(m, nn.Linear)]
        if sum(p.numel() for m in layers for p in (m.weight, m.bias)) + actor.log_std.numel() != offsets[-1]:
            raise NotImplementedError("the actor has parameters outside its Linear layers and log σ; use --no-rat-factored.")
        captured = {}
        hooks = [m.register_forward_hook(lambda module, inputs, output: captured.__setitem__(module, (inputs[0], output))) for m in layers]
        try:
            mean, log_std = actor(obs)
        finally:
            for hook in hooks:
                hook.remove()
        *out_grads, log_std_rows = torch.autograd.grad(gaussian_log_prob(mean, log_std, actions).sum(), [captured[m][1] for m in layers] + [log_std])
        linear = [(captured[m][0].detach(), g, span[m.weight], span[m.bias]) for m, g in zip(layers, out_grads)]
        row_positions = torch.arange(span[actor.log_std].start, span[actor.log_std].stop, device=obs.device)
        return cls(log_std_rows, row_positions, linear, int(offsets[-1]))

    def __call__(self, idx: torch.Tensor) -> "FactoredScores":
        if self.transposed:
            raise ValueError("select the rows of S, then transpose: S(idx).T")
        return FactoredScores(self.rows[idx], self.row_positions, [(x[idx], g[idx], ws, bs) for x, g, ws, bs in self.linear], self.num_params)

    @property
    def T(self) -> "FactoredScores":
        return FactoredScores(self.rows, self.row_positions, self.linear, self.num_params, not self.transposed)

    def new_zeros(self, *size):
        return torch.zeros(*size, dtype=self.dtype, device=self.device)

    def __matmul__(self, other):
        if isinstance(other, FactoredScores):  # S_B S_Cᵀ, (b, c)
            if self.transposed or not other.transposed:
                raise ValueError("FactoredScores multiplies S_B by S_Cᵀ, never the d × d SᵀS.")
            product = self.rows @ other.rows.T
            for (x, g, _, _), (other_x, other_g, _, _) in zip(self.linear, other.linear):
                product += (x @ other_x.T + 1) * (g @ other_g.T)
            return product
        if self.transposed:  # Sᵀ δ, (d,)
            delta = other
            result = delta.new_zeros(self.num_params)
            result[self.row_positions] = self.rows.T @ delta
            for x, g, weight, bias in self.linear:
                result[weight] = ((g * delta[:, None]).T @ x).flatten()  # Σ_i δ_i g_i x_iᵀ, (out, in)
                result[bias] = g.T @ delta
            return result
        w = other  # S w, (b,)
        result = self.rows @ w[self.row_positions]
        for x, g, weight, bias in self.linear:
            result += ((g @ w[weight].view(g.shape[1], x.shape[1])) * x).sum(1) + g @ w[bias]
        return result


def score_product(actor: Actor, obs: torch.Tensor, actions: torch.Tensor, direction: list[torch.Tensor]) -> torch.Tensor:
    """S v, the derivative of every log πθ(a_i|s_i) along v: one forward-mode pass over the batch, (N,)."""
    params = {name: p.detach() for name, p in actor.named_parameters()}
    tangents = dict(zip(params, direction))
    _, s_v = jvp(lambda p: gaussian_log_prob(*functional_call(actor, p, (obs,)), actions), (params,), (tangents,))
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


def add_entropy_bonus(advantages: torch.Tensor, log_probs: torch.Tensor, ent_coef: float) -> torch.Tensor:
    """A − c·(log π(a|s) − mean log π). In expectation over a ~ π, ∇log π · (−log π) is ∇H(π(·|s)), so this advantage's
    policy gradient is the vanilla one plus c·∇(mean entropy): the bonus is a right-hand side like any other, and the
    identity backprop = SᵀÃ/N still holds. The mean is a baseline: it changes no expectation."""
    return advantages - ent_coef * (log_probs - log_probs.mean())


def transform_advantages(actor: Actor, obs: torch.Tensor, actions: torch.Tensor, rhs: torch.Tensor, args: Args) -> torch.Tensor:
    """Ã = (SSᵀ/N + λI)⁻¹ rhs as --transform says: RAT (on factored or materialized scores), the dense solve, or rhs itself."""
    if args.transform == "none":
        return rhs
    if args.transform == "rat":
        scores = (FactoredScores.of_batch if args.rat_factored else make_score_fn)(actor, obs, actions)
        transformed = rat_transform(scores, rhs, args.rat_lambda, args.rat_block_size, args.rat_sweeps)
    else:
        transformed = dense_transform(make_score_fn(actor, obs, actions)(torch.arange(len(rhs), device=rhs.device)), rhs, args.rat_lambda)
    if not torch.isfinite(transformed).all():
        raise FloatingPointError("the advantage transform is not finite; raise --rat-lambda.")
    return transformed


def npg_step(actor: Actor, obs, actions, advantages, transformed_adv, target_kl: float, line_search: bool, shrink: float = 0.8,
             max_kl_factor: Optional[float] = None) -> dict:
    """Natural-gradient step θ ← θ + η ĝ with ĝ = ∇θ mean(Ã · log πθ) = (F + λI)⁻¹ g (direct backpropagation).

    η = sqrt(2δ / ĝᵀFĝ), the Fisher quadratic ĝᵀFĝ = ‖Sĝ‖²/N taken exactly by one Jacobian-vector product.
    With the line search, η shrinks by `shrink` until the true mean KL ≤ δ and the surrogate mean(ratio · A) improves
    (and, with max_kl_factor f, no state's KL exceeds f·δ); if no step passes, the old parameters are put back."""
    params = list(actor.parameters())
    mean, log_std = actor(obs)  # one forward at θ_old serves the gradient and the line search's reference
    log_prob = gaussian_log_prob(mean, log_std, actions)
    old_mean, old_log_std, old_log_prob = mean.detach(), log_std.detach(), log_prob.detach()
    direction = torch.autograd.grad((transformed_adv * log_prob).mean(), params)
    scores_direction = score_product(actor, obs, actions, direction)  # S ĝ, (N,)
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
            mean, log_std = actor(obs)
            state_kl = gaussian_kl(old_mean, old_log_std, mean, log_std)
            kl = state_kl.mean().item()
            improvement = ((gaussian_log_prob(mean, log_std, actions) - old_log_prob).exp() * advantages).mean().item() - advantages.mean().item()
        within_max = max_kl_factor is None or state_kl.max().item() <= max_kl_factor * target_kl
        if not line_search or (kl <= target_kl and within_max and improvement > 0):
            return dict(stats, kl=kl, max_kl=state_kl.max().item(), improvement=improvement, step_size=fraction * step_size.item(), accepted=1.0, backtracks=backtrack)
    vector_to_parameters(old_params, params)
    return dict(stats, kl=0.0, max_kl=0.0, improvement=0.0, step_size=0.0, backtracks=10)


def natural_steps(actor: Actor, obs, actions, old_log_probs, advantages, transformed_adv, target_kl: float, args: Args) -> dict:
    """--npg-steps natural steps on one batch, from θ_0, the policy that collected it.

    Step 1 is npg_step with Ã of A. Step k > 1 re-solves at the moved policy θ_k for the importance-weighted
    advantages ρA, ρ = πθ_k / πθ_0: ∇θ mean(ρ A) = S_kᵀ(ρA)/N there, so Ã_k = (S_k S_kᵀ/N + λI)⁻¹ ρA turns it into a
    damped natural step. (Ours: the Gram stays unweighted over the batch's samples, not the ρ-weighted Fisher of π_k.)
    Each step's line search bounds KL(π_k ‖ π_k+1) by δ; `kl` and `improvement` are measured from θ_0, over every step.
    The other stats are the first step's, so --npg-steps 1 logs exactly what one npg_step did."""
    with torch.no_grad():
        old_mean, old_log_std = actor(obs)
    rhs, resolve_seconds, steps_taken, first_step = advantages, 0.0, 0, {}
    for step in range(args.npg_steps):
        if step > 0:
            started = time.time()
            with torch.no_grad():
                rhs = (gaussian_log_prob(*actor(obs), actions) - old_log_probs).exp() * advantages  # ρA, (N,)
            transformed_adv = transform_advantages(actor, obs, actions, rhs, args)
            resolve_seconds += time.time() - started
        stats = npg_step(actor, obs, actions, rhs, transformed_adv, target_kl, args.line_search, args.line_search_factor, args.max_kl_factor)
        if args.transform != "none":  # S ĝ = rhs − λÃ exactly when Ã solves the system
            stats["relative_residual"] = ((rhs - stats["scores_direction"] - args.rat_lambda * transformed_adv).norm() / rhs.norm().clamp_min(1e-12)).item()
        del stats["scores_direction"]
        first_step = first_step or stats
        if not stats["accepted"]:
            break  # no step passed the line search; another solve at the same policy would find none either
        steps_taken += 1
    with torch.no_grad():
        mean, log_std = actor(obs)
        state_kl = gaussian_kl(old_mean, old_log_std, mean, log_std)
        improvement = ((gaussian_log_prob(mean, log_std, actions) - old_log_probs).exp() * advantages).mean().item() - advantages.mean().item()
    return dict(first_step, kl=state_kl.mean().item(), max_kl=state_kl.max().item(), improvement=improvement, steps_taken=steps_taken, target_kl=target_kl, resolve_seconds=resolve_seconds)


def minibatch_updates(agent: Agent, critic_optimizer, actor_optimizer, batch: dict, args: Args) -> dict:
    """Adam epochs over shuffled mini-batches: the critic on 0.5 (V(s) − R)², and with --update ppo or npg-ppo also
    the actor on the clipped surrogate −min(ρ Â, clip(ρ, 1 ± ε) Â), ρ = πθ(a|s) / πθ_old(a|s), where Â is
    batch["surrogate_adv"] (ppo: Ã; npg-ppo: A, since a mini-batch's slice of Ã is no natural gradient) and
    θ_old the policy that collected the batch."""
    batch_size = batch["obs"].shape[0]
    minibatch_size = batch_size // args.num_minibatches
    value_losses, policy_losses, clip_fracs = [], [], []
    for _ in range(args.update_epochs):
        for mb in torch.randperm(batch_size, device=batch["obs"].device).split(minibatch_size):
            value_loss = 0.5 * (agent.value(batch["obs"][mb]) - batch["returns"][mb]).pow(2).mean()
            critic_optimizer.zero_grad()
            value_loss.backward()
            nn.utils.clip_grad_norm_(agent.critic.parameters(), args.max_grad_norm)
            critic_optimizer.step()
            value_losses.append(value_loss.item())
            if actor_optimizer is None:
                continue
            log_ratio = gaussian_log_prob(*agent.actor(batch["obs"][mb]), batch["actions"][mb]) - batch["log_probs"][mb]
            ratio, adv = log_ratio.exp(), batch["surrogate_adv"][mb]
            policy_loss = -torch.min(ratio * adv, ratio.clamp(1 - args.clip_coef, 1 + args.clip_coef) * adv).mean()
            actor_optimizer.zero_grad()
            policy_loss.backward()
            nn.utils.clip_grad_norm_(agent.actor.parameters(), args.max_grad_norm)
            actor_optimizer.step()
            policy_losses.append(policy_loss.item())
            clip_fracs.append(((ratio - 1).abs() > args.clip_coef).float().mean().item())
    stats = dict(value_loss=float(np.mean(value_losses)))
    if policy_losses:
        stats.update(policy_loss=float(np.mean(policy_losses)), clip_frac=float(np.mean(clip_fracs)))
    return stats


# ---------------------------------------------------------------------------- checkpoints and evaluation


def save_checkpoint(path: str, agent, critic_optimizer, actor_optimizer, reward_scaler, args: Args, run_name: str, global_step: int, iteration: int) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    checkpoint = {
        "script": "rat_continuous_action",
        "env_id": args.env_id,
        "run_name": run_name,
        "args": dataclasses.asdict(args),
        "global_step": global_step,
        "iteration": iteration,
        "agent": agent.state_dict(),
        "critic_optimizer": critic_optimizer.state_dict(),
        "actor_optimizer": actor_optimizer.state_dict() if actor_optimizer else None,
        "return_rms": {k: torch.as_tensor(getattr(reward_scaler.return_rms, k)) for k in ("mean", "var", "count")},
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
    if not isinstance(checkpoint, dict) or checkpoint.get("script") != "rat_continuous_action":
        sys.exit(f"error: {path!r} was not written by rat_continuous_action.py.")
    if env_id is not None and checkpoint["env_id"] != env_id:
        sys.exit(f"error: {path!r} is a checkpoint of {checkpoint['env_id']}, not of --env-id {env_id}; pass --env-id {checkpoint['env_id']}.")
    return checkpoint


def evaluate(agent: Agent, env_id: str, episodes: int, seed: int, deterministic: bool = True, video_folder: Optional[str] = None,
             fast_render: bool = True):
    """Undiscounted returns and lengths of `episodes` episodes, normalization frozen, on seeds seed, seed+1, …"""
    env = make_env(env_id, video_folder, fast_render)()
    device = next(agent.parameters()).device
    returns, lengths = [], []
    for episode in range(episodes):
        raw_obs, _ = env.reset(seed=seed + episode)
        done, episode_return, episode_length = False, 0.0, 0
        while not done:
            with torch.no_grad():
                obs = agent.obs_normalizer(torch.as_tensor(raw_obs, device=device)[None])
                mean, log_std = agent.actor(obs)
                action = mean if deterministic else mean + log_std.exp() * torch.randn_like(mean)
            raw_obs, reward, terminated, truncated, _ = env.step(action[0].cpu().numpy())
            done, episode_return, episode_length = terminated or truncated, episode_return + float(reward), episode_length + 1
        returns.append(episode_return)
        lengths.append(episode_length)
    env.close()
    return returns, lengths


def run_evaluation(agent, args: Args, env_id: str, out_dir: str, writer: Optional[SummaryWriter], global_step: int, seed: int) -> list:
    """Evaluate on seeds disjoint from those of training with `seed`; print, log to TensorBoard and append to `{out_dir}/eval.csv`."""
    started = time.time()
    video_folder = os.path.join(out_dir, "eval_videos") if args.capture_video else None
    returns, lengths = evaluate(agent, env_id, args.eval_episodes, seed + 1_000_000, not args.eval_stochastic, video_folder, args.fast_render)
    seconds = time.time() - started
    print(f"eval {env_id}: return {np.mean(returns):.1f} ± {np.std(returns):.1f}, length {np.mean(lengths):.0f} over {len(returns)} episodes ({seconds:.1f} s)")
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
        out.writerow([env_id, global_step, len(returns), not args.eval_stochastic, np.mean(returns), np.std(returns), np.mean(lengths), round(seconds, 2)])
    return returns


# ---------------------------------------------------------------------------- training


RESUME_MAY_CHANGE = ("total_timesteps", "checkpoint_every", "save_model", "cuda", "torch_threads", "capture_video", "fast_render", "resume")


def check_args(args: Args) -> None:
    """Stop with one sentence for a flag no run can use."""
    batch_size = args.num_envs * args.num_steps
    problems = [
        (args.rat_lambda <= 0, f"--rat-lambda must be > 0 (got {args.rat_lambda}); λ = 1 is the default damping."),
        (args.rat_block_size < 1, f"--rat-block-size must be ≥ 1 (got {args.rat_block_size})."),
        (args.rat_sweeps < 1, f"--rat-sweeps must be ≥ 1 (got {args.rat_sweeps})."),
        (args.env_id.startswith("ALE/") or args.env_id.endswith("NoFrameskip-v4"),
         f"--env-id {args.env_id!r} is an Atari game, played from pixels, and this script learns from states; run rat_atari_dmc_pixels.py."),
        (args.target_kl <= 0, f"--target-kl must be > 0 (got {args.target_kl})."),
        (args.npg_steps < 1, f"--npg-steps must be ≥ 1 (got {args.npg_steps})."),
        (args.learning_rate <= 0, f"--learning-rate must be > 0 (got {args.learning_rate})."),
        (args.ent_coef < 0, f"--ent-coef must be ≥ 0 (got {args.ent_coef}); a negative bonus would push the policy to collapse."),
        (not -5 <= args.log_std_init <= 2, f"--log-std-init must lie in [-5, 2], σ from 0.007 to 7.4 (got {args.log_std_init})."),
        (args.update_epochs < 1, f"--update-epochs must be ≥ 1 (got {args.update_epochs})."),
        (args.critic_hidden < 1, f"--critic-hidden must be ≥ 1 (got {args.critic_hidden})."),
        (args.clip_coef <= 0, f"--clip-coef must be > 0 (got {args.clip_coef})."),
        (not 0 < args.line_search_factor < 1, f"--line-search-factor must lie in (0, 1) (got {args.line_search_factor})."),
        (args.num_envs < 1 or args.num_steps < 1, "--num-envs and --num-steps must be ≥ 1."),
        (batch_size < 2, "a batch needs at least 2 samples (--num-envs × --num-steps) to normalize its advantages."),
        (not (0 <= args.gamma <= 1 and 0 <= args.gae_lambda <= 1), f"--gamma and --gae-lambda must lie in [0, 1] (got {args.gamma}, {args.gae_lambda})."),
        (args.final_target_kl is not None and not args.final_target_kl >= 0, f"--final-target-kl must be ≥ 0 (got {args.final_target_kl})."),
        (args.final_target_kl is not None and args.anneal_target_kl, "--anneal-target-kl and --final-target-kl both set where δ ends; give one."),
        (args.max_kl_factor is not None and not args.max_kl_factor >= 1, f"--max-kl-factor must be ≥ 1 (got {args.max_kl_factor}): below 1 it would bound the mean KL under δ."),
        (args.final_gamma is not None and not 0 <= args.final_gamma <= 1, f"--final-gamma must lie in [0, 1] (got {args.final_gamma})."),
        (args.num_minibatches < 1 or batch_size % args.num_minibatches, f"the batch of {batch_size} samples (--num-envs × --num-steps) must divide into --num-minibatches {args.num_minibatches}."),
        (args.total_timesteps < batch_size, f"--total-timesteps {args.total_timesteps} is less than one batch of {batch_size} samples."),
        (args.eval_episodes < 1, "--eval-episodes must be ≥ 1."),
        (args.torch_threads < 1, "--torch-threads must be ≥ 1."),
        (args.checkpoint_every < 0, "--checkpoint-every must be ≥ 0."),
    ]
    for failed, message in problems:
        if failed:
            sys.exit(f"error: {message}")


def train(args: Args) -> dict:
    check_args(args)
    # --env-id may be left out on resume: the checkpoint knows its env (one that disagrees is refused)
    checkpoint = load_checkpoint(args.resume, None if args.env_id == Args.env_id else args.env_id) if args.resume else None
    if checkpoint:  # continue the same run: its flags, but for those that do not change what is learned
        keep = {name: getattr(args, name) for name in RESUME_MAY_CHANGE}
        args = dataclasses.replace(Args(**{k: v for k, v in checkpoint["args"].items() if k in Args.__dataclass_fields__}), **keep)
        if checkpoint["global_step"] + args.num_envs * args.num_steps > args.total_timesteps:
            sys.exit(f"error: the checkpoint is at step {checkpoint['global_step']} already; pass a larger --total-timesteps to continue.")
    check_env_id(args.env_id)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.backends.cudnn.deterministic = args.torch_deterministic
    torch.set_num_threads(args.torch_threads)
    device = torch.device("cuda" if args.cuda and torch.cuda.is_available() else "cpu")

    run_name = checkpoint["run_name"] if checkpoint else f"{args.env_id.replace('/', '_')}__{args.exp_name}__{args.seed}__{int(time.time())}"
    run_dir = f"runs/{run_name}"
    envs, reward_scaler = make_envs(args, run_name)
    obs_dim, act_dim = envs.single_observation_space.shape[0], envs.single_action_space.shape[0]
    agent = Agent(obs_dim, act_dim, args.log_std_init, args.critic_hidden).to(device)
    critic_optimizer = torch.optim.Adam(agent.critic.parameters(), lr=args.learning_rate, eps=1e-5)
    actor_optimizer = torch.optim.Adam(agent.actor.parameters(), lr=args.learning_rate, eps=1e-5) if args.update != "npg" else None
    batch_size = args.num_envs * args.num_steps
    num_iterations = args.total_timesteps // batch_size
    global_step, start_iteration = 0, 1
    if checkpoint:
        agent.load_state_dict(checkpoint["agent"])
        critic_optimizer.load_state_dict(checkpoint["critic_optimizer"])
        if actor_optimizer and checkpoint["actor_optimizer"]:
            actor_optimizer.load_state_dict(checkpoint["actor_optimizer"])
        for key, value in checkpoint["return_rms"].items():
            setattr(reward_scaler.return_rms, key, value.numpy())
        torch.set_rng_state(checkpoint["torch_rng"])
        global_step, start_iteration = checkpoint["global_step"], checkpoint["iteration"] + 1
        print(f"resumed {run_name} at step {global_step}")

    writer = SummaryWriter(run_dir)
    writer.add_text("hyperparameters", "|param|value|\n|-|-|\n" + "\n".join(f"|{k}|{v}|" for k, v in vars(args).items()))

    def checkpoint_now(iteration: int) -> str:
        path = f"{run_dir}/checkpoint.pt"
        save_checkpoint(path, agent, critic_optimizer, actor_optimizer, reward_scaler, args, run_name, global_step, iteration)
        return path

    obs = torch.zeros((args.num_steps, args.num_envs, obs_dim), device=device)
    actions = torch.zeros((args.num_steps, args.num_envs, act_dim), device=device)
    log_probs, rewards, dones, values = (torch.zeros((args.num_steps, args.num_envs), device=device) for _ in range(4))
    raw_obs, _ = envs.reset(seed=args.seed + global_step)  # a resumed run continues on fresh episodes
    agent.obs_normalizer.update(torch.as_tensor(raw_obs, device=device))
    next_obs = agent.obs_normalizer(torch.as_tensor(raw_obs, device=device))
    episode_returns, start_time, start_step, last_print = [], time.time(), global_step, 0.0
    stop_requested = []

    def request_stop(signum, frame):  # a checkpoint mid-update could hold a line-search trial point
        signal.signal(signal.SIGINT, signal.default_int_handler)
        print("Ctrl-C: saving a checkpoint after this iteration (press again to quit without one)", flush=True)
        stop_requested.append(signum)

    signal.signal(signal.SIGINT, request_stop)
    try:
        for iteration in range(start_iteration, num_iterations + 1):
            remaining = 1.0 - (iteration - 1.0) / num_iterations  # 1 at the first iteration, 1/num_iterations at the last
            if args.anneal_lr:
                for optimizer in filter(None, (critic_optimizer, actor_optimizer)):
                    optimizer.param_groups[0]["lr"] = remaining * args.learning_rate
            final_target_kl = 0.0 if args.anneal_target_kl else args.final_target_kl
            target_kl = args.target_kl if final_target_kl is None else final_target_kl + remaining * (args.target_kl - final_target_kl)
            gamma = args.gamma if args.final_gamma is None else args.final_gamma + remaining * (args.gamma - args.final_gamma)

            for step in range(args.num_steps):
                global_step += args.num_envs
                obs[step] = next_obs
                with torch.no_grad():
                    mean, log_std = agent.actor(next_obs)
                    action = mean + log_std.exp() * torch.randn_like(mean)
                    log_probs[step] = gaussian_log_prob(mean, log_std, action)
                    values[step] = agent.value(next_obs)
                actions[step] = action
                raw_obs, reward, terminated, truncated, info = envs.step(action.cpu().numpy())
                raw_obs_t = torch.as_tensor(raw_obs, device=device)
                agent.obs_normalizer.update(raw_obs_t)
                next_obs = agent.obs_normalizer(raw_obs_t)
                reward = torch.as_tensor(reward, dtype=torch.float32, device=device)
                # A time limit is not a terminal state: bootstrap with V(final observation), not 0.
                for i in np.flatnonzero(truncated & ~terminated):
                    final_obs = torch.as_tensor(info["final_obs"][i], device=device)[None]
                    with torch.no_grad():
                        reward[i] += gamma * agent.value(agent.obs_normalizer(final_obs))[0]
                rewards[step], dones[step] = reward, torch.as_tensor(terminated | truncated, dtype=torch.float32, device=device)
                for i in np.flatnonzero(info.get("_episode", [])):
                    episode_returns.append(float(info["episode"]["r"][i]))
                    writer.add_scalar("charts/episodic_return", info["episode"]["r"][i], global_step)
                    writer.add_scalar("charts/episodic_length", info["episode"]["l"][i], global_step)

            update_start = time.time()
            with torch.no_grad():
                advantages, returns = compute_gae(rewards, values, dones, agent.value(next_obs), gamma, args.gae_lambda)
            batch = dict(obs=obs.reshape(batch_size, obs_dim), actions=actions.reshape(batch_size, act_dim),
                         log_probs=log_probs.reshape(-1), returns=returns.reshape(-1))
            adv = advantages.reshape(-1)
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)  # A, normalized: the right-hand side of the transform
            if args.ent_coef:
                adv = add_entropy_bonus(adv, batch["log_probs"], args.ent_coef)

            transformed_adv = transform_advantages(agent.actor, batch["obs"], batch["actions"], adv, args)
            transform_seconds = time.time() - update_start
            batch["surrogate_adv"] = transformed_adv if args.update == "ppo" else adv

            stats = {}
            if args.update != "npg":
                with torch.no_grad():
                    old_mean, old_log_std = agent.actor(batch["obs"])
            if args.update != "ppo":
                stats = natural_steps(agent.actor, batch["obs"], batch["actions"], batch["log_probs"], adv, transformed_adv, target_kl, args)
                transform_seconds += stats.pop("resolve_seconds")
            if args.update == "npg-ppo":
                stats["npg_kl"] = stats["kl"]  # the natural steps' share of the batch's move; `kl` below is the whole move
            stats.update(minibatch_updates(agent, critic_optimizer, actor_optimizer, batch, args))
            if args.update != "npg":
                with torch.no_grad():
                    stats["kl"] = gaussian_kl(old_mean, old_log_std, *agent.actor(batch["obs"])).mean().item()
            update_seconds = time.time() - update_start
            if not all(torch.isfinite(p).all() for p in agent.parameters()):
                raise FloatingPointError("the update made the network's weights non-finite; lower --target-kl or --learning-rate.")

            sps = int((global_step - start_step) / (time.time() - start_time))
            for key, value in stats.items():
                writer.add_scalar(f"{'losses' if key.endswith('loss') else 'policy'}/{key}", value, global_step)
            writer.add_scalar("charts/SPS", sps, global_step)
            writer.add_scalar("policy/std", agent.actor.log_std.exp().mean().item(), global_step)  # exploration noise σ, mean over action dimensions
            writer.add_scalar("charts/learning_rate", critic_optimizer.param_groups[0]["lr"], global_step)
            writer.add_scalar("charts/gamma", gamma, global_step)
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
        summary["eval_returns"] = run_evaluation(agent, args, args.env_id, run_dir, writer, global_step, args.seed)
    envs.close()
    writer.close()
    return summary


def evaluate_checkpoint(args: Args) -> list:
    """--eval-checkpoint: rebuild the agent from the checkpoint and evaluate it; no training."""
    check_args(args)
    torch.set_num_threads(args.torch_threads)
    checkpoint = load_checkpoint(args.eval_checkpoint)
    env_id = checkpoint["env_id"]
    if args.env_id not in (env_id, Args.env_id):
        sys.exit(f"error: {args.eval_checkpoint!r} is a checkpoint of {env_id}, not of --env-id {args.env_id}.")
    check_env_id(env_id)
    probe = make_env(env_id)()
    agent = Agent(probe.observation_space.shape[0], probe.action_space.shape[0], critic_hidden=checkpoint["args"].get("critic_hidden", 64))
    probe.close()
    agent.load_state_dict(checkpoint["agent"])
    out_dir = os.path.dirname(os.path.abspath(args.eval_checkpoint))
    with SummaryWriter(out_dir) as writer:
        return run_evaluation(agent, args, env_id, out_dir, writer, checkpoint["global_step"], checkpoint["args"]["seed"])


if __name__ == "__main__":
    cli_args = tyro.cli(Args)
    try:
        evaluate_checkpoint(cli_args) if cli_args.eval_checkpoint else train(cli_args)
    except FloatingPointError as error:  # a diverging solve or step: say what to change, not a traceback
        sys.exit(f"error: {error}")
