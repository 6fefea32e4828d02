"""Specification of trpo_atari_dmc_pixels.py: TRPO and natural actor-critic from pixels.

The natural-gradient pieces meet the oracles of RAT.md §4 item 6 on a tiny CNN policy with both heads: the
Fisher-vector product is the explicit *expected* Fisher times a vector, conjugate gradient converges to the dense
solve (H + damping·I)⁻¹g, the line search never accepts a KL above max-kl and puts the old parameters back when it
accepts nothing. The script trains, resumes and evaluates on Atari and DeepMind Control, stops with one sentence on a
user's mistake, and carries the pieces it shares with rat_atari_dmc_pixels.py unchanged.
"""

import dataclasses
import inspect
import math
import os
import signal
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import rat_atari_dmc_pixels as rat_pixels  # noqa: E402
import trpo_atari_dmc_pixels as trpo  # noqa: E402

torch.set_num_threads(1)  # the batches here are tiny: on a shared CPU, threads cost more than they give

HEADS = {"categorical": gym.spaces.Discrete(3), "gaussian": gym.spaces.Box(-1.0, 1.0, (2,))}


def tiny_policy(action_space, n: int = 12, seed: int = 0):
    """A ~1k-parameter CNN policy in float64 on 2×36×36 frames, its actions and advantages that depend on them.

    The actor head is re-drawn at unit scale (its 0.01 init would leave the encoder's part of the Fisher ~1e-4 of the
    head's) and σ ≠ 1, so every block of the Fisher, and the 1/σ² weighting, is exercised."""
    torch.manual_seed(seed)
    agent = trpo.Agent((2, 36, 36), action_space, channels=(4, 4, 4), hidden=16).double()
    with torch.no_grad():
        agent.actor.weight.normal_()
        if agent.actor_log_std is not None:
            agent.actor_log_std.log_std.copy_(torch.linspace(-0.5, 0.3, action_space.shape[0]))
    obs = torch.randint(0, 256, (n, 2, 36, 36), dtype=torch.uint8)
    with torch.no_grad():
        dist = agent(obs)
        actions = dist.sample().double()
        adv = dist.log_prob(actions) + 0.5 * torch.randn(n, dtype=torch.float64)
    return agent, obs, actions, (adv - adv.mean()) / adv.std()


def flat_policy_params(agent) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in agent.policy_parameters().values()])


def policy_gradient(agent, obs, actions, adv) -> torch.Tensor:
    """g = ∇θ mean(A · log πθ), flat over agent.policy_parameters()."""
    grads = torch.autograd.grad((adv * agent(obs).log_prob(actions)).mean(), list(agent.policy_parameters().values()))
    return torch.cat([g.reshape(-1) for g in grads])


def expected_fisher(agent, obs) -> torch.Tensor:
    """The explicit expected Fisher over the policy's parameters, (d, d), from the head's Jacobians J_i (one backward
    pass per output): categorical mean_i J_iᵀ (diag p_i − p_i p_iᵀ) J_i on the logits; Gaussian mean_i J_iᵀ diag(1/σ²) J_i
    on the mean, plus 2 on each log σ_j (the last entries of θ)."""
    params = list(agent.policy_parameters().values())
    out = agent.actor(agent.encoder(obs))  # logits or mean, (N, K)
    rows = []
    for i in range(out.shape[0]):
        for k in range(out.shape[1]):
            grads = torch.autograd.grad(out[i, k], params, retain_graph=True, allow_unused=True)
            rows.append(torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1) for p, g in zip(params, grads)]))
    jac = torch.stack(rows).reshape(out.shape[0], out.shape[1], -1)  # (N, K, d)
    if agent.actor_log_std is None:
        probs = out.detach().softmax(-1)
        weights = torch.diag_embed(probs) - probs[:, :, None] * probs[:, None, :]  # (N, K, K)
        return torch.einsum("nkj,nkl,nlm->jm", jac, weights, jac) / len(obs)
    inv_var = (-2 * agent.actor_log_std.log_std.detach()).exp()
    fisher = torch.einsum("nkj,k,nkm->jm", jac, inv_var, jac) / len(obs)
    act_dim = len(inv_var)
    fisher[-act_dim:, -act_dim:] += 2 * torch.eye(act_dim, dtype=fisher.dtype)
    return fisher


def head_outputs(agent, obs):
    """What πθ is at each state: the logits, or the mean and log σ."""
    with torch.no_grad():
        out = agent.actor(agent.encoder(obs))
        return out if agent.actor_log_std is None else (out, agent.actor_log_std(out).clone())


def kl_from(old, agent, obs) -> float:
    """Mean KL(π_old ‖ πθ) by the closed forms, independent of torch.distributions (which the script uses):
    Σ_k p_k (log p_k − log q_k), or Σ_j log σ1/σ0 + (σ0² + (μ0 − μ1)²) / (2σ1²) − ½."""
    new = head_outputs(agent, obs)
    if agent.actor_log_std is None:
        old_log_p, new_log_p = F.log_softmax(old, -1), F.log_softmax(new, -1)
        return (old_log_p.exp() * (old_log_p - new_log_p)).sum(-1).mean().item()
    (mean0, log_std0), (mean1, log_std1) = old, new
    var0, var1 = (2 * log_std0).exp(), (2 * log_std1).exp()
    return (log_std1 - log_std0 + (var0 + (mean0 - mean1) ** 2) / (2 * var1) - 0.5).sum(-1).mean().item()


# ---------------------------------------------------------------------------- the oracles of RAT.md §4 item 6


@pytest.mark.parametrize("head", list(HEADS))
def test_fisher_vector_product_is_the_expected_fisher_times_a_vector(head):
    agent, obs, actions, adv = tiny_policy(HEADS[head])
    fisher = expected_fisher(agent, obs)
    vector = torch.randn(fisher.shape[0], dtype=torch.float64)
    # Both sides are exact formulas in float64 over ~1k parameters; they differ by round-off (measured 8e-16 relative).
    fisher_vector_product = trpo.make_fisher_vector_product(agent, obs)
    for vector in (vector, -2 * vector):  # the graph it keeps serves every product, as it must over the CG iterations
        torch.testing.assert_close(fisher_vector_product(vector), fisher @ vector, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("head", list(HEADS))
def test_conjugate_gradient_converges_to_the_dense_damped_fisher_solve(head):
    agent, obs, actions, adv = tiny_policy(HEADS[head])
    damping = 0.1
    g = policy_gradient(agent, obs, actions, adv)
    damped_fisher = expected_fisher(agent, obs) + damping * torch.eye(len(g), dtype=torch.float64)
    exact = torch.linalg.solve(damped_fisher, g)  # oracle: (H + damping·I)⁻¹ g, d ≈ 1.1k

    fisher_vector_product = trpo.make_fisher_vector_product(agent, obs)

    def matvec(v):
        return fisher_vector_product(v) + damping * v

    def error_in_m_norm(x):
        return ((x - exact) @ damped_fisher @ (x - exact)).sqrt().item()

    errors = [error_in_m_norm(trpo.conjugate_gradient(matvec, g, iters, residual_tol=0.0)) for iters in (1, 3, 10, 40)]
    # CG minimizes the M-norm error over growing Krylov spaces, so it never increases (1e-12: round-off).
    assert all(later <= earlier + 1e-12 for earlier, later in zip(errors, errors[1:])), errors
    # H has rank ≤ N·(K − 1) = 24 (categorical) or N·K + K = 26 (Gaussian), so H + damping·I has at most 27 distinct
    # eigenvalues and CG is exact in 27 iterations up to round-off; 40 leave margin. cond(H + 0.1·I) ≈ 500: measured
    # 2e-14 (categorical) and 6e-14 (Gaussian) relative.
    x = trpo.conjugate_gradient(matvec, g, 40, residual_tol=0.0)
    assert ((x - exact).norm() / exact.norm()).item() < 1e-8


def test_conjugate_gradient_of_a_zero_right_hand_side_is_zero():
    # A batch whose advantages are all 0 gives g = 0; the first step would otherwise divide 0 by 0.
    assert torch.equal(trpo.conjugate_gradient(lambda v: 2 * v, torch.zeros(4), 10), torch.zeros(4))


@pytest.mark.parametrize("head", list(HEADS))
@pytest.mark.parametrize("scale", [1.0, 4.0, 1e4])
def test_line_search_never_accepts_a_kl_above_max_kl_and_restores_the_parameters(head, scale):
    agent, obs, actions, adv = tiny_policy(HEADS[head], n=32)
    max_kl, shrink = 0.01, 0.8
    old, old_params = head_outputs(agent, obs), flat_policy_params(agent)
    # Along g a short enough step improves the surrogate, so only the KL can refuse a step.
    direction = policy_gradient(agent, obs, actions, adv)
    quad_step = math.sqrt(2 * max_kl / (direction @ trpo.make_fisher_vector_product(agent, obs)(direction)).item())

    stats = trpo.line_search(agent, obs, actions, adv, direction, scale * quad_step, max_kl, steps=10, shrink=shrink)

    if stats["accepted"]:
        # Two float64 formulas of the same KL: 1e-9 relative is round-off with room.
        assert kl_from(old, agent, obs) <= max_kl
        assert stats["kl"] == pytest.approx(kl_from(old, agent, obs), rel=1e-9)
    else:
        assert torch.equal(flat_policy_params(agent), old_params)  # the old policy, bit for bit
    if scale * shrink**9 > 10:  # even the last try is 10× the quadratic step: its KL is far above max-kl
        assert not stats["accepted"] and stats["backtracks"] == 10
    if scale == 1.0:  # the quadratic step of a tiny network: KL ≈ max-kl, within a shrink or two
        assert stats["accepted"] and stats["backtracks"] <= 3


@pytest.mark.parametrize("head", list(HEADS))
def test_natural_actor_critic_step_reaches_the_target_kl(head):
    agent, obs, actions, adv = tiny_policy(HEADS[head], n=32)
    max_kl = 1e-5
    old = head_outputs(agent, obs)
    stats = trpo.trpo_step(agent, obs, actions, adv, max_kl, cg_iters=10, cg_damping=0.1, line_search_steps=0)
    # η = sqrt(2δ / sᵀHs) sets the KL's quadratic model to δ; the remainder is O(‖Δθ‖) ∝ √δ relative, so 5% fails
    # any step size off by a constant factor.
    assert kl_from(old, agent, obs) == pytest.approx(max_kl, rel=0.05)
    assert stats["accepted"] == 1.0 and stats["backtracks"] == 0 and stats["relative_residual"] < 1


@pytest.mark.parametrize("head", list(HEADS))
def test_trpo_step_stays_within_max_kl_and_improves_the_surrogate(head):
    agent, obs, actions, adv = tiny_policy(HEADS[head], n=32)
    old = head_outputs(agent, obs)
    with torch.no_grad():
        old_log_prob = agent(obs).log_prob(actions)
    stats = trpo.trpo_step(agent, obs, actions, adv, 0.01, cg_iters=10, cg_damping=0.1, line_search_steps=10)
    with torch.no_grad():
        ratio = (agent(obs).log_prob(actions) - old_log_prob).exp()
    assert stats["accepted"] == 1.0 and kl_from(old, agent, obs) <= 0.01
    # L(θ) − L(θ_old) = mean((ρ − 1) A), recomputed here: positive, and the value the script reported.
    assert (ratio * adv).mean().item() - adv.mean().item() == pytest.approx(stats["improvement"], rel=1e-9)
    assert stats["improvement"] > 0


@pytest.mark.parametrize("seed", range(3))
def test_a_fisher_estimated_on_a_subsample_never_breaks_the_kl_bound(seed):
    # H from 8 of 32 frames can misjudge the curvature of the others badly (here it makes some steps fail all ten
    # shrinks); the line search on the whole batch must then keep the bound or keep the old policy.
    agent, obs, actions, adv = tiny_policy(HEADS["categorical"], n=32, seed=seed)
    old, old_params = head_outputs(agent, obs), flat_policy_params(agent)
    stats = trpo.trpo_step(agent, obs, actions, adv, 0.01, cg_iters=10, cg_damping=0.1, line_search_steps=10, fvp_subsample=0.25)
    if stats["accepted"]:
        assert kl_from(old, agent, obs) <= 0.01 and stats["improvement"] > 0
    else:
        assert torch.equal(flat_policy_params(agent), old_params)


# ---------------------------------------------------------------------------- the pieces shared with rat_atari_dmc_pixels.py

SHARED = ["env_family", "with_family_defaults", "make_env", "check_env", "make_envs", "layer_init", "NatureCNN", "LogStd",
          "Agent", "compute_gae", "evaluate", "run_evaluation", "evaluate_checkpoint"]


@pytest.mark.parametrize("name", SHARED)
def test_shared_pieces_are_identical_to_rat_atari_dmc_pixels(name):
    assert inspect.getsource(getattr(trpo, name)) == inspect.getsource(getattr(rat_pixels, name))


def test_experiment_and_environment_flags_are_those_of_rat_atari_dmc_pixels():
    def shared_flags(module):  # names, defaults and docstrings, as the source spells them
        source = inspect.getsource(module.Args)
        return source[source.index("# --- experiment ---"):source.index("# --- algorithm ---")].replace(module.Args.exp_name, "NAME")

    assert shared_flags(trpo) == shared_flags(rat_pixels)
    assert trpo.DMC_ACTION_REPEAT == rat_pixels.DMC_ACTION_REPEAT
    assert {k: v["total_timesteps"] for k, v in trpo.FAMILY_DEFAULTS.items()} == {k: v["total_timesteps"] for k, v in rat_pixels.FAMILY_DEFAULTS.items()}
    for name in ("learning_rate", "anneal_lr", "update_epochs", "num_minibatches", "max_grad_norm", "separate_encoders", "line_search_factor"):
        assert getattr(trpo.Args, name) == getattr(rat_pixels.Args, name), name  # the critic trains as RAT's does


def test_same_seed_builds_the_same_agent_as_rat_atari_dmc_pixels():
    agents = []
    for module in (trpo, rat_pixels):
        torch.manual_seed(0)
        agents.append(module.Agent((4, 84, 84), gym.spaces.Discrete(4)).state_dict())
    assert all(torch.equal(agents[0][key], agents[1][key]) for key in agents[0])


# ---------------------------------------------------------------------------- training, resume, evaluation

TINY = dict(num_envs=2, num_steps=16, num_minibatches=2, cuda=False, eval_episodes=1)
POLICY_TAGS = {"time/policy_step_seconds", "time/update_seconds", "policy/kl", "policy/step_size", "policy/backtracks",
               "policy/fisher_quad", "policy/relative_residual", "losses/value_loss"}


def scalar_tags(run_dir: str) -> set:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(run_dir)
    events.Reload()
    return set(events.Tags()["scalars"])


@pytest.mark.parametrize("env_id, variant", [("ALE/Breakout-v5", {}),
                                             ("dm_control/cartpole-swingup-v0", dict(line_search=False, separate_encoders=True))],
                         ids=["atari-trpo", "dm_control-natural-actor-critic"])
def test_trains_logs_resumes_and_evaluates(env_id, variant, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # 20-step episodes end inside the 16-step rollouts of DeepMind Control: the truncation bootstrap runs.
    args = trpo.Args(env_id=env_id, total_timesteps=32, save_model=True, max_episode_steps=20, **TINY, **variant)
    first = trpo.train(args)
    assert first["global_step"] == 32 and np.isfinite(first["eval_returns"]).all()
    assert POLICY_TAGS <= scalar_tags(os.path.join("runs", first["run_name"]))
    checkpoint = torch.load(first["checkpoint"], weights_only=True)
    assert checkpoint["script"] == "trpo_atari_dmc_pixels" and checkpoint["iteration"] == 1
    resumed = trpo.train(dataclasses.replace(args, total_timesteps=64, resume=first["checkpoint"]))
    assert resumed["global_step"] == 64 and resumed["checkpoint"] == first["checkpoint"]
    moved = [not torch.equal(a, b) for a, b in zip(first["agent"].state_dict().values(), resumed["agent"].state_dict().values())]
    assert any(moved)  # the resumed iteration trained
    evaluation = trpo.Args(eval_checkpoint=resumed["checkpoint"], max_episode_steps=20, eval_episodes=1)
    # The checkpoint alone reproduces the in-memory agent's evaluation.
    assert trpo.evaluate_checkpoint(evaluation) == resumed["eval_returns"]
    assert os.path.isfile(os.path.join(os.path.dirname(resumed["checkpoint"]), "eval.csv"))


def test_same_seed_same_weights(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runs = [trpo.train(trpo.Args(env_id="ALE/Pong-v5", total_timesteps=32, **TINY))["agent"] for _ in range(2)]
    assert all(torch.equal(a, b) for a, b in zip(runs[0].state_dict().values(), runs[1].state_dict().values()))


def test_ctrl_c_saves_a_checkpoint_after_the_iteration(tmp_path):
    process = subprocess.Popen([sys.executable, os.path.join(ROOT, "trpo_atari_dmc_pixels.py"), "--num-envs", "2", "--num-steps", "16",
                                "--num-minibatches", "2", "--total-timesteps", "1000000"],
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout.readline().startswith("step")  # training is under way
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 130 and "checkpoint of step" in out
    [run_dir] = os.listdir(tmp_path / "runs")
    checkpoint = torch.load(tmp_path / "runs" / run_dir / "checkpoint.pt", weights_only=True)
    assert checkpoint["global_step"] == 32 * checkpoint["iteration"] > 0  # whole iterations of 2 × 16 steps


# ---------------------------------------------------------------------------- a user's mistakes


@pytest.mark.parametrize("flags, message", [
    (dict(max_kl=0.0), "--max-kl must be > 0"),
    (dict(cg_iters=0), "--cg-iters must be ≥ 1"),
    (dict(cg_damping=-0.1), "--cg-damping must be ≥ 0"),
    (dict(fvp_subsample=0.0), "--fvp-subsample must lie in (0, 1]"),
    (dict(fvp_subsample=1.5), "--fvp-subsample must lie in (0, 1]"),
    (dict(line_search_steps=0), "use --no-line-search"),
    (dict(line_search_factor=1.0), "--line-search-factor must lie in (0, 1)"),
    (dict(num_minibatches=3), "--num-minibatches"),
    (dict(total_timesteps=8), "--total-timesteps"),
    (dict(env_id="CartPole-v1"), "neither an Atari nor a DeepMind Control id"),
    (dict(env_id="dm_control/cartpole-swingup-v0", action_repeat=0), "--action-repeat"),
])
def test_bad_flags_stop_with_one_sentence(flags, message):
    with pytest.raises(SystemExit) as stop:
        trpo.train(trpo.Args(**{**TINY, "total_timesteps": 32, **flags}))
    assert str(stop.value).startswith("error: ") and message in str(stop.value) and "\n" not in str(stop.value)


def test_bad_checkpoints_stop_with_one_sentence(tmp_path):
    corrupt, foreign, missing = tmp_path / "corrupt.pt", tmp_path / "foreign.pt", tmp_path / "missing.pt"
    corrupt.write_bytes(b"not a checkpoint")
    torch.save({"script": "rat_atari_dmc_pixels", "env_id": "ALE/Breakout-v5"}, foreign)
    atari = trpo.Args(env_id="ALE/Pong-v5", total_timesteps=32, **TINY)
    for path, message in [(missing, "does not exist"), (corrupt, "not a readable checkpoint"),
                          (foreign, "not written by trpo_atari_dmc_pixels.py but by rat_atari_dmc_pixels.py")]:
        for args in (dataclasses.replace(atari, resume=str(path)), trpo.Args(eval_checkpoint=str(path))):
            with pytest.raises(SystemExit) as stop:
                trpo.evaluate_checkpoint(args) if args.eval_checkpoint else trpo.train(args)
            assert message in str(stop.value)
    other_env = tmp_path / "pong.pt"
    torch.save({"script": "trpo_atari_dmc_pixels", "env_id": "ALE/Breakout-v5"}, other_env)
    with pytest.raises(SystemExit) as stop:  # an --env-id that disagrees with the checkpoint's (the default one may be left out)
        trpo.train(dataclasses.replace(atari, resume=str(other_env)))
    assert "pass --env-id ALE/Breakout-v5" in str(stop.value)


def test_command_line_error_exits_non_zero():
    result = subprocess.run([sys.executable, os.path.join(ROOT, "trpo_atari_dmc_pixels.py"), "--cg-iters", "0"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode != 0 and result.stderr.strip().splitlines()[-1] == "error: --cg-iters must be ≥ 1 (got 0)."
