"""Specification of the baselines: ppo_baseline.py and trpo_baseline.py (TRPO and natural actor-critic).

The natural-gradient pieces are held to the oracles of RAT.md §4: TRPO's Fisher-vector product to the analytic
expected Fisher of a diagonal Gaussian, conjugate gradient to the dense solve (F + λI)⁻¹g and, with the empirical
Fisher, to rat_continuous_action's dense Woodbury transform — one oracle for RAT, TRPO and NPG. The scripts are then
run end to end for a few tiny iterations: logging, checkpoints, resume, determinism, evaluation, bad input.
"""

import math
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn
from torch.distributions import Normal, kl_divergence
from torch.nn.utils import parameters_to_vector

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import ppo_baseline  # noqa: E402
import rat_continuous_action as rat  # noqa: E402
import trpo_baseline  # noqa: E402
from trpo_baseline import conjugate_gradient, line_search, make_fisher_vector_product, trpo_step  # noqa: E402

# The oracle tests call the functions directly, outside train()'s --torch-threads (default 1): on a shared 2-core
# machine a second spinning OpenMP thread made these tiny networks ~30× slower.
torch.set_num_threads(1)

SCRIPTS = {"ppo_baseline": ppo_baseline, "trpo_baseline": trpo_baseline}


# ---------------------------------------------------------------------------- helpers


def tiny_actor(obs_dim: int = 3, act_dim: int = 2, hidden: int = 8) -> trpo_baseline.Actor:
    """The scripts' Actor with an 8-unit mean network (d = 2 + 50), in float64, so dense d × d matrices are cheap."""
    torch.manual_seed(0)
    actor = trpo_baseline.Actor(obs_dim, act_dim)
    actor.mean = nn.Sequential(nn.Linear(obs_dim, hidden), nn.Tanh(), nn.Linear(hidden, act_dim))
    with torch.no_grad():
        actor.log_std.copy_(torch.linspace(-0.5, 0.3, act_dim))  # σ ≠ 1, so the 1/σ² weighting is exercised
    return actor.double()


def policy_batch(actor, n: int, obs_dim: int, seed: int = 1):
    """States, actions sampled from the policy, and normalized advantages that depend on the actions."""
    generator = torch.Generator().manual_seed(seed)
    obs = torch.randn(n, obs_dim, generator=generator, dtype=torch.float64)
    with torch.no_grad():
        mean, log_std = actor(obs)
        actions = mean + log_std.exp() * torch.randn(mean.shape, generator=generator, dtype=torch.float64)
    adv = (actions - mean).sum(-1) + 0.5 * torch.randn(n, generator=generator, dtype=torch.float64)
    return obs, actions, (adv - adv.mean()) / adv.std()


def mean_jacobians(actor, obs: torch.Tensor) -> torch.Tensor:
    """J_i = ∂μθ(s_i)/∂θ_mean for every state, one backward pass per output: (N, act_dim, d_mean)."""
    params = list(actor.mean.parameters())
    mean = actor.mean(obs)
    rows = [parameters_to_vector(torch.autograd.grad(mean[i, j], params, retain_graph=True))
            for i in range(mean.shape[0]) for j in range(mean.shape[1])]
    return torch.stack(rows).reshape(mean.shape[0], mean.shape[1], -1)


def analytic_fisher(actor, obs: torch.Tensor) -> torch.Tensor:
    """Expected Fisher of the diagonal Gaussian (RAT.md §4.6): 2 on each log σ_j, mean_i J_iᵀ diag(1/σ²) J_i on the
    mean network. log_std is the first of actor.parameters() (the Actor's own parameter comes before its modules)."""
    jac = mean_jacobians(actor, obs)  # (N, act_dim, d_mean)
    inv_var = (-2 * actor.log_std.detach()).exp()  # (act_dim,)
    mean_block = torch.einsum("naj,a,nak->jk", jac, inv_var, jac) / obs.shape[0]
    return torch.block_diag(2 * torch.eye(len(inv_var), dtype=obs.dtype), mean_block)  # (d, d)


def tiny_args(module, **overrides):
    """A few 64-step iterations of InvertedPendulum: seconds, not minutes."""
    settings = dict(env_id="InvertedPendulum-v5", total_timesteps=128, num_steps=64, num_minibatches=4,
                    update_epochs=2, eval_episodes=2, cuda=False)
    return module.Args(**{**settings, **overrides})


def scalar_tags(run_dir: Path) -> set:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir))
    events.Reload()
    return set(events.Tags()["scalars"])


def state_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k].cpu(), b[k].cpu()) for k in a)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Each script trained once for 2 iterations with --save-model, in its own directory: {name: (dir, summary)}."""
    runs = {}
    with pytest.MonkeyPatch.context() as patch:
        for name, module in SCRIPTS.items():
            workdir = tmp_path_factory.mktemp(name)
            patch.chdir(workdir)
            summary = module.train(tiny_args(module, save_model=True))
            summary["checkpoint"] = str(workdir / summary["checkpoint"])  # the scripts write relative to the cwd
            runs[name] = workdir, summary
    return runs


# ---------------------------------------------------------------------------- Fisher-vector product and CG


def test_fisher_vector_product_is_the_analytic_gaussian_fisher_times_a_vector():
    torch.manual_seed(0)
    actor = trpo_baseline.Actor(5, 3).double()  # the real 64-64 actor, d = 4,742
    with torch.no_grad():
        actor.log_std.copy_(torch.tensor([-1.0, 0.0, 0.5]))
        actor.mean[4].weight.normal_()  # out_std 0.01 would make the mean's Jacobian almost only the last layer's
    obs = torch.randn(16, 5, dtype=torch.float64)
    vector = torch.randn(sum(p.numel() for p in actor.parameters()), dtype=torch.float64)
    damping = 0.3

    jac = mean_jacobians(actor, obs)  # (N, act_dim, d_mean)
    inv_var = (-2 * actor.log_std.detach()).exp()
    v_log_std, v_mean = vector[:3], vector[3:]
    mean_part = torch.einsum("naj,a,na->j", jac, inv_var, jac @ v_mean) / obs.shape[0]
    expected = torch.cat([2 * v_log_std, mean_part]) + damping * vector

    # Both sides are exact formulas in float64; they differ only by round-off (~1e-15 relative).
    torch.testing.assert_close(make_fisher_vector_product(actor, obs)(vector) + damping * vector, expected, rtol=1e-10, atol=1e-12)


def test_conjugate_gradient_converges_to_the_dense_damped_fisher_solve():
    actor = tiny_actor()
    obs, actions, adv = policy_batch(actor, 32, 3)
    damping = 0.1
    policy_grad = parameters_to_vector(torch.autograd.grad((adv * trpo_baseline.gaussian_log_prob(*actor(obs), actions)).mean(), list(actor.parameters())))
    damped_fisher = analytic_fisher(actor, obs) + damping * torch.eye(len(policy_grad), dtype=torch.float64)
    exact = torch.linalg.solve(damped_fisher, policy_grad)  # oracle: (F + λI)⁻¹ g, d = 52

    def matvec(v):
        return make_fisher_vector_product(actor, obs)(v) + damping * v

    def error_in_m_norm(x):
        return ((x - exact) @ damped_fisher @ (x - exact)).sqrt().item()

    errors = [error_in_m_norm(conjugate_gradient(matvec, policy_grad, iters, residual_tol=0.0)) for iters in (1, 2, 5, 10, 20, 52)]
    # CG minimizes the M-norm error over growing Krylov spaces, so it never increases (1e-12: round-off).
    assert all(later <= earlier + 1e-12 for earlier, later in zip(errors, errors[1:])), errors
    # d = 52 iterations solve exactly in exact arithmetic; with cond(F + λI) ≈ 50 float64 gets within ~1e-14,
    # so 1e-8 is a wide margin that still fails any wrong matrix or a broken recurrence.
    x = conjugate_gradient(matvec, policy_grad, 52, residual_tol=0.0)
    torch.testing.assert_close(x, exact, rtol=1e-8, atol=1e-10)


def test_conjugate_gradient_with_the_empirical_fisher_meets_rats_dense_transform():
    actor = tiny_actor()
    obs, actions, adv = policy_batch(actor, 32, 3)
    lam, n = 0.1, len(adv)
    scores = rat.make_score_fn(actor, obs, actions)(torch.arange(n))  # S, (N, d), RAT's own per-sample scores
    rat_natural_grad = scores.T @ rat.dense_transform(scores, adv, lam) / n  # Sᵀ Ã / N, oracle 2 of RAT.md §4

    # Oracle 4 first: TRPO's g by backprop equals SᵀA/N built from RAT's scores (float64 round-off).
    policy_grad = parameters_to_vector(torch.autograd.grad((adv * trpo_baseline.gaussian_log_prob(*actor(obs), actions)).mean(), list(actor.parameters())))
    torch.testing.assert_close(policy_grad, scores.T @ adv / n, rtol=1e-10, atol=1e-12)

    def empirical_product(v):
        return scores.T @ (scores @ v) / n + lam * v  # v ↦ Sᵀ(Sv)/N + λv

    # SᵀS/N + λI has at most N + 1 = 33 distinct eigenvalues, so CG is exact (up to round-off) in 33 iterations;
    # 52 leaves margin. cond ≈ 70 here: float64 reaches ~1e-14, 1e-8 is a wide margin.
    x = conjugate_gradient(empirical_product, policy_grad, 52, residual_tol=0.0)
    torch.testing.assert_close(x, rat_natural_grad, rtol=1e-8, atol=1e-10)


def test_conjugate_gradient_of_a_zero_right_hand_side_is_zero():
    # A batch whose advantages are all 0 gives g = 0; the first step would otherwise divide 0 by 0.
    x = conjugate_gradient(lambda v: 2 * v, torch.zeros(4), 10)
    assert torch.equal(x, torch.zeros(4))


# ---------------------------------------------------------------------------- TRPO's step and line search


def true_kl(old: tuple, actor, obs) -> float:
    """Mean KL(π_old ‖ πθ) by torch.distributions, independent of the script's gaussian_kl."""
    with torch.no_grad():
        mean, log_std = actor(obs)
        return kl_divergence(Normal(old[0], old[1].exp()), Normal(mean, log_std.exp())).sum(-1).mean().item()


@pytest.mark.parametrize("shrink", [0.5, 0.8])
@pytest.mark.parametrize("scale", [1.0, 4.0, 30.0, 1e4])
def test_line_search_never_accepts_a_step_beyond_max_kl(scale, shrink):
    actor = tiny_actor()
    obs, actions, adv = policy_batch(actor, 64, 3)
    max_kl = 0.01
    with torch.no_grad():
        old = actor(obs)
    old_params = parameters_to_vector(actor.parameters()).detach().clone()
    # Along the policy gradient g a short enough step improves the surrogate, so only the KL can refuse a step.
    direction = parameters_to_vector(torch.autograd.grad((adv * trpo_baseline.gaussian_log_prob(*actor(obs), actions)).mean(), list(actor.parameters())))
    quad_step = math.sqrt(2 * max_kl / (direction @ make_fisher_vector_product(actor, obs)(direction)).item())

    stats = line_search(actor, obs, actions, adv, direction, scale * quad_step, max_kl, steps=10, shrink=shrink)

    if stats["accepted"]:
        # The accepted step's true KL is within the bound, and the KL the script reported is that true KL
        # (two float64 formulas of the same quantity: 1e-9 relative is round-off with room).
        assert true_kl(old, actor, obs) <= max_kl
        assert stats["kl"] == pytest.approx(true_kl(old, actor, obs), rel=1e-9)
    else:
        # Nothing accepted: the old policy comes back bit for bit.
        assert torch.equal(parameters_to_vector(actor.parameters()), old_params)
    shrinks_to_quadratic_step = math.ceil(math.log(scale) / math.log(1 / shrink))
    if shrinks_to_quadratic_step > 9:  # even the last try, shrink⁹ · scale, is beyond the quadratic step: all refused
        assert not stats["accepted"] and stats["backtracks"] == 10
    else:  # some shrink of these reaches the quadratic step, whose KL is about max-kl
        assert stats["accepted"] and stats["backtracks"] >= shrinks_to_quadratic_step


def test_natural_actor_critic_step_reaches_the_target_kl():
    actor = tiny_actor()
    obs, actions, adv = policy_batch(actor, 64, 3)
    max_kl = 1e-4
    with torch.no_grad():
        old = actor(obs)
    stats = trpo_step(actor, obs, actions, adv, max_kl, cg_iters=10, cg_damping=0.1, line_search_steps=0)
    # η = sqrt(2δ / sᵀHs) sets the KL's quadratic model to δ; the cubic remainder is O(‖Δθ‖) ∝ √δ = 1% relative
    # (0.06% measured), so 5% holds for any sane step and fails a step size off by a constant factor.
    assert true_kl(old, actor, obs) == pytest.approx(max_kl, rel=0.05)
    assert stats["accepted"] == 1.0 and stats["backtracks"] == 0


def test_trpo_step_with_line_search_stays_within_max_kl_and_improves_the_surrogate():
    actor = tiny_actor()
    obs, actions, adv = policy_batch(actor, 64, 3)
    with torch.no_grad():
        old = actor(obs)
        old_log_prob = trpo_baseline.gaussian_log_prob(*old, actions)
    stats = trpo_step(actor, obs, actions, adv, 0.01, cg_iters=10, cg_damping=0.1, line_search_steps=10)
    with torch.no_grad():
        ratio = (trpo_baseline.gaussian_log_prob(*actor(obs), actions) - old_log_prob).exp()
    assert stats["accepted"] == 1.0
    assert true_kl(old, actor, obs) <= 0.01
    # L(θ) − L(θ_old) = mean((ρ − 1) A), recomputed here; it must be positive and match the reported value.
    assert (ratio * adv).mean().item() - adv.mean().item() == pytest.approx(stats["improvement"], rel=1e-9)
    assert stats["improvement"] > 0


# ---------------------------------------------------------------------------- the scripts end to end


@pytest.mark.parametrize("name", SCRIPTS)
def test_training_logs_the_shared_tags_and_saves_a_checkpoint_of_its_script(trained, name):
    workdir, summary = trained[name]
    run_dir = workdir / "runs" / summary["run_name"]
    tags = scalar_tags(run_dir)
    shared = {"charts/episodic_return", "charts/episodic_length", "charts/SPS", "charts/learning_rate",
              "losses/value_loss", "policy/kl", "time/update_seconds", "eval/episodic_return", "eval/episodic_length"}
    own = {"ppo_baseline": {"losses/policy_loss", "policy/clip_frac"},
           "trpo_baseline": {"policy/step_size", "policy/backtracks", "policy/accepted", "policy/fisher_quad",
                             "policy/relative_residual", "time/policy_step_seconds"}}[name]
    assert shared | own <= tags, (shared | own) - tags
    checkpoint = torch.load(summary["checkpoint"], weights_only=True)
    assert (checkpoint["script"], checkpoint["env_id"], checkpoint["global_step"], checkpoint["iteration"]) == (name, "InvertedPendulum-v5", 128, 2)
    assert summary["episode_returns"] and all(np.isfinite(summary["episode_returns"]))


@pytest.mark.parametrize("name", SCRIPTS)
def test_resume_continues_from_the_checkpoint(trained, name, tmp_path, monkeypatch):
    module, (_, summary) = SCRIPTS[name], trained[name]
    monkeypatch.chdir(tmp_path)  # the resumed run writes runs/{run_name} here, not over the fixture's checkpoint
    # A finished run has nothing left to train: resuming it without a larger budget says so.
    with pytest.raises(SystemExit, match="pass a larger --total-timesteps"):
        module.train(tiny_args(module, resume=summary["checkpoint"]))
    resumed = module.train(tiny_args(module, resume=summary["checkpoint"], total_timesteps=192, save_model=True))
    assert resumed["run_name"] == summary["run_name"] and resumed["global_step"] == 192
    assert torch.load(resumed["checkpoint"], weights_only=True)["iteration"] == 3


@pytest.mark.parametrize("name, overrides", [("ppo_baseline", {}), ("trpo_baseline", {}), ("trpo_baseline", {"line_search": False})])
def test_same_seed_gives_identical_runs(name, overrides, tmp_path, monkeypatch):
    module = SCRIPTS[name]
    monkeypatch.chdir(tmp_path)
    first = module.train(tiny_args(module, exp_name="first", **overrides))
    second = module.train(tiny_args(module, exp_name="second", **overrides))
    assert first["episode_returns"] == second["episode_returns"]
    assert state_equal(first["agent"].state_dict(), second["agent"].state_dict())


@pytest.mark.parametrize("name", SCRIPTS)
def test_evaluating_a_checkpoint_twice_gives_identical_returns(trained, name, tmp_path, monkeypatch):
    module, (_, summary) = SCRIPTS[name], trained[name]
    monkeypatch.chdir(tmp_path)
    eval_args = tiny_args(module, eval_checkpoint=summary["checkpoint"])
    first, second = module.evaluate_checkpoint(eval_args), module.evaluate_checkpoint(eval_args)
    assert len(first) == 2 and all(np.isfinite(first)) and first == second
    # The saved normalization statistics reproduce the live agent evaluated right after training (same seeds).
    assert first == summary["eval_returns"]
    assert len((Path(summary["checkpoint"]).parent / "eval.csv").read_text().splitlines()) >= 4  # header + 3 evaluations


@pytest.mark.parametrize("name", ["ppo_baseline", "trpo_baseline"])
def test_log_std_init_sets_the_first_batchs_noise(name, tmp_path, monkeypatch):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    monkeypatch.chdir(tmp_path)
    module = SCRIPTS[name]
    assert torch.equal(module.Agent(4, 2, log_std_init=-1.0).actor.log_std, torch.full((2,), -1.0))
    summary = module.train(tiny_args(module, total_timesteps=64, log_std_init=-1.0))
    events = EventAccumulator(str(tmp_path / "runs" / summary["run_name"]))
    events.Reload()
    # σ after the first update: TRPO's step of KL ≤ 0.01 moves log σ of the one action dimension by at most about 0.1,
    # PPO's 8 Adam steps at a learning rate of 3e-4 by less than 0.01 (0.25: a margin)
    assert abs(math.log(events.Scalars("policy/std")[0].value) + 1.0) < 0.25


@pytest.mark.parametrize("name", ["ppo_baseline", "trpo_baseline"])
def test_wider_critic_trains_and_its_checkpoint_evaluates(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    module = SCRIPTS[name]
    summary = module.train(tiny_args(module, critic_hidden=16, save_model=True))
    assert [layer.out_features for layer in summary["agent"].critic if isinstance(layer, nn.Linear)] == [16, 16, 1]
    assert [layer.out_features for layer in summary["agent"].actor.mean if isinstance(layer, nn.Linear)] == [64, 64, 1]
    assert module.evaluate_checkpoint(tiny_args(module, eval_checkpoint=summary["checkpoint"])) == summary["eval_returns"]


def test_ctrl_c_finishes_the_iteration_and_saves_a_checkpoint_that_resumes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name, module in SCRIPTS.items():
        calls, real_gae = [], module.compute_gae

        def gae_interrupted_once(*args, **kwargs):
            calls.append(1)
            if len(calls) == 2:  # Ctrl-C arrives in the second iteration, between its rollout and its update
                signal.raise_signal(signal.SIGINT)
            return real_gae(*args, **kwargs)

        monkeypatch.setattr(module, "compute_gae", gae_interrupted_once)
        with pytest.raises(SystemExit) as stopped:
            module.train(tiny_args(module, exp_name=f"ctrl_c_{name}", total_timesteps=256))
        assert stopped.value.code == 130
        monkeypatch.setattr(module, "compute_gae", real_gae)
        (path,) = tmp_path.glob(f"runs/*ctrl_c_{name}*/checkpoint.pt")
        checkpoint = torch.load(path, weights_only=True)
        # The interrupted iteration is finished, so the checkpoint holds exactly two whole batches of 64 steps.
        assert (checkpoint["iteration"], checkpoint["global_step"]) == (2, 128)
        assert module.train(tiny_args(module, resume=str(path), total_timesteps=192))["global_step"] == 192


# ---------------------------------------------------------------------------- one clear sentence for bad input


@pytest.mark.parametrize("script, flags, message", [
    ("ppo_baseline.py", ["--num-minibatches", "7"], "error: the batch of 2048 samples (--num-envs × --num-steps) must divide into --num-minibatches 7."),
    ("trpo_baseline.py", ["--max-kl", "0"], "error: --max-kl must be > 0 (got 0.0)"),
])
def test_bad_flag_on_the_command_line_exits_with_one_sentence(script, flags, message):
    done = subprocess.run([sys.executable, str(ROOT / script), *flags], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode != 0
    assert message in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("name, overrides, message", [
    ("ppo_baseline", {"clip_coef": 0.0}, "--clip-coef must be > 0"),
    ("ppo_baseline", {"update_epochs": 0}, "--update-epochs must be ≥ 1"),
    ("trpo_baseline", {"critic_hidden": 0}, "--critic-hidden must be ≥ 1"),
    ("ppo_baseline", {"torch_threads": 0}, "--torch-threads must be ≥ 1"),
    ("trpo_baseline", {"cg_iters": 0}, "--cg-iters must be ≥ 1"),
    ("trpo_baseline", {"log_std_init": 3.0}, "--log-std-init must lie in [-5, 2]"),
    ("ppo_baseline", {"log_std_init": -9.0}, "--log-std-init must lie in [-5, 2]"),
    ("trpo_baseline", {"cg_damping": -0.1}, "--cg-damping must be ≥ 0"),
    ("trpo_baseline", {"line_search_steps": 0}, "use --no-line-search"),
    ("trpo_baseline", {"total_timesteps": 10}, "is less than one batch of 64 samples"),
    ("ppo_baseline", {"env_id": "NoSuchTask-v0"}, "unknown --env-id 'NoSuchTask-v0'"),
    ("trpo_baseline", {"env_id": "CartPole-v1"}, "needs continuous (Box) actions"),
])
def test_bad_flag_exits_with_one_sentence(name, overrides, message, tmp_path, monkeypatch):
    module = SCRIPTS[name]
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stopped:
        module.train(tiny_args(module, **overrides))
    assert str(stopped.value.code).startswith("error: ") and message in str(stopped.value.code)


@pytest.mark.parametrize("name, env_id, pixel_script", [
    ("ppo_baseline", "ALE/Breakout-v5", "rat_atari_dmc_pixels.py --transform none"),
    ("trpo_baseline", "BreakoutNoFrameskip-v4", "trpo_atari_dmc_pixels.py"),
])
def test_a_pixel_env_id_points_to_the_pixel_script(name, env_id, pixel_script, tmp_path, monkeypatch):
    module = SCRIPTS[name]
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stopped:
        module.train(tiny_args(module, env_id=env_id))
    message = str(stopped.value.code)
    assert message.startswith(f"error: --env-id {env_id!r}") and pixel_script in message and "\n" not in message


def test_checkpoint_of_another_script_env_or_a_broken_file_exits_with_one_sentence(trained, tmp_path):
    ppo_checkpoint = trained["ppo_baseline"][1]["checkpoint"]
    trpo_checkpoint = trained["trpo_baseline"][1]["checkpoint"]
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint")
    cases = [
        (trpo_baseline.evaluate_checkpoint, tiny_args(trpo_baseline, eval_checkpoint=ppo_checkpoint), "not written by trpo_baseline.py but by ppo_baseline.py"),
        (ppo_baseline.evaluate_checkpoint, tiny_args(ppo_baseline, eval_checkpoint=trpo_checkpoint), "not written by ppo_baseline.py but by trpo_baseline.py"),
        (ppo_baseline.evaluate_checkpoint, tiny_args(ppo_baseline, eval_checkpoint=ppo_checkpoint, env_id="Hopper-v5"), "is a checkpoint of InvertedPendulum-v5"),
        (trpo_baseline.train, tiny_args(trpo_baseline, resume=trpo_checkpoint, env_id="Hopper-v5"), "pass --env-id InvertedPendulum-v5"),
        (ppo_baseline.evaluate_checkpoint, tiny_args(ppo_baseline, eval_checkpoint=str(corrupt)), "is not a readable checkpoint"),
        (trpo_baseline.evaluate_checkpoint, tiny_args(trpo_baseline, eval_checkpoint=str(tmp_path / "missing.pt")), "does not exist"),
    ]
    for run, args, message in cases:
        with pytest.raises(SystemExit) as stopped:
            run(args)
        assert str(stopped.value.code).startswith("error: ") and message in str(stopped.value.code), stopped.value.code
