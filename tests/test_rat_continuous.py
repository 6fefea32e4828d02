"""rat_continuous_action.py held to the oracles of RAT.md §4, and its command-line behaviour.

The transform tests run in float64 on the script's own Actor (d = 4,418 parameters), so the only
error left against a dense oracle is the solver's, not round-off."""

import copy
import math
import os
import signal
import subprocess
import sys

import pytest
import torch

import rat_continuous_action as rat

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OBS_DIM, ACT_DIM = 4, 2


def policy_batch(n: int, seed: int = 0):
    """An on-policy batch of the script's Actor in float64: observations, sampled actions, and
    normalized advantages that depend on the actions (the realistic case of RAT.md §2)."""
    torch.manual_seed(seed)
    actor = rat.Actor(OBS_DIM, ACT_DIM).double()
    with torch.no_grad():
        actor.log_std.fill_(-0.5)
        obs = torch.randn(n, OBS_DIM, dtype=torch.float64)
        mean, log_std = actor(obs)
        actions = mean + log_std.exp() * torch.randn_like(mean)
    advantages = -(actions - obs[:, :ACT_DIM]).pow(2).sum(1) + 0.3 * torch.randn(n, dtype=torch.float64)
    advantages = (advantages - advantages.mean()) / advantages.std()
    scores = rat.make_score_fn(actor, obs, actions)(torch.arange(n))  # (N, d): small enough to form here
    return actor, obs, actions, advantages, scores


def fisher_solve(scores, advantages, lam):
    """Oracle 1: g_λ = (SᵀS/N + λI)⁻¹ SᵀA/N in parameter space (d × d)."""
    n, d = scores.shape
    fisher = scores.T @ scores / n + lam * torch.eye(d, dtype=scores.dtype)
    return torch.linalg.solve(fisher, scores.T @ advantages / n)


def relative_error(x, y):
    return ((x - y).norm() / y.norm()).item()


@pytest.fixture(scope="module")
def batch():
    return policy_batch(128)


def test_score_fn_matches_single_sample_backprop(batch):
    actor, obs, actions, _, scores = batch
    for i in (0, 77):
        log_prob = rat.gaussian_log_prob(*actor(obs[i : i + 1]), actions[i : i + 1]).sum()
        expected = torch.cat([g.flatten() for g in torch.autograd.grad(log_prob, list(actor.parameters()))])
        # vmap-of-grad and a single backward pass do the same float64 arithmetic in another order.
        assert torch.allclose(scores[i], expected, rtol=1e-10, atol=1e-12)


def test_dense_woodbury_matches_dense_fisher_solve(batch):
    _, _, _, adv, scores = batch
    for lam in (0.01, 0.1, 1.0):
        natural_grad = scores.T @ rat.dense_transform(scores, adv, lam) / len(adv)
        # Both are exact solves of the same system; float64 round-off on a condition number ≤ ~1e6.
        assert relative_error(natural_grad, fisher_solve(scores, adv, lam)) < 1e-8


def test_rat_matches_dense_fisher_solve(batch):
    _, _, _, adv, scores = batch
    lam = 0.1
    transformed = rat.rat_transform(lambda idx: scores[idx], adv, lam, block_size=32, sweeps=60, generator=torch.Generator().manual_seed(0))
    # 60 sweeps of a linearly converging solver: far below any error a training run would notice.
    assert relative_error(scores.T @ transformed / len(adv), fisher_solve(scores, adv, lam)) < 1e-6


def test_factored_scores_compute_the_products_of_the_materialized_scores(batch):
    actor, obs, actions, _, scores = batch
    factored = rat.FactoredScores.of_batch(actor, obs, actions)
    rows, other_rows = torch.arange(3, 43), torch.arange(50, 80)
    w, delta = torch.randn(scores.shape[1], dtype=torch.float64), torch.randn(40, dtype=torch.float64)
    # Per-layer identities, not approximations: equal to float64 round-off.
    assert relative_error(factored(rows) @ w, scores[rows] @ w) < 1e-12
    assert relative_error(factored(rows).T @ delta, scores[rows].T @ delta) < 1e-12
    assert relative_error(factored(rows) @ factored(other_rows).T, scores[rows] @ scores[other_rows].T) < 1e-12
    with pytest.raises(ValueError, match="never the d × d"):
        factored.T @ factored


def test_rat_on_factored_scores_matches_dense_fisher_solve_and_the_materialized_path(batch):
    actor, obs, actions, adv, scores = batch
    factored = rat.FactoredScores.of_batch(actor, obs, actions)
    transformed = rat.rat_transform(factored, adv, 0.1, block_size=32, sweeps=60, generator=torch.Generator().manual_seed(0))
    assert relative_error(scores.T @ transformed / len(adv), fisher_solve(scores, adv, 0.1)) < 1e-6
    same_blocks = [rat.rat_transform(score_fn, adv, 0.1, 32, 3, generator=torch.Generator().manual_seed(4)) for score_fn in (factored, lambda idx: scores[idx])]
    assert relative_error(*same_blocks) < 1e-10  # the same blocks in float64, only the order of the sums differs


def test_rat_error_decreases_with_sweeps(batch):
    _, _, _, adv, scores = batch
    lam, n = 0.1, len(adv)
    exact = rat.dense_transform(scores, adv, lam)
    system = scores @ scores.T / n + lam * torch.eye(n, dtype=torch.float64)

    def energy_error(sweeps):  # ‖x − Ã‖_M, which every block projection can only shrink
        x = rat.rat_transform(lambda idx: scores[idx], adv, lam, 32, sweeps, generator=torch.Generator().manual_seed(3))
        return torch.sqrt((x - exact) @ system @ (x - exact)).item()

    errors = [energy_error(s) for s in (1, 2, 4, 8)]
    assert all(later < earlier for earlier, later in zip(errors, errors[1:])), errors
    assert errors[-1] < 0.1 * errors[0], errors


def test_one_full_block_is_exact(batch):
    _, _, _, adv, scores = batch
    exact = rat.dense_transform(scores, adv, 0.1)
    for block_size in (len(adv), 10 * len(adv)):  # a block larger than the batch is the whole batch
        one_step = rat.rat_transform(lambda idx: scores[idx], adv, 0.1, block_size, sweeps=1)
        assert relative_error(one_step, exact) < 1e-10  # one Cholesky solve of the same N × N system


def test_blocks_that_do_not_divide_the_batch_still_converge():
    _, _, _, adv, scores = policy_batch(100, seed=1)
    exact = rat.dense_transform(scores, adv, 1.0)
    transformed = rat.rat_transform(lambda idx: scores[idx], adv, 1.0, block_size=32, sweeps=40, generator=torch.Generator().manual_seed(0))
    assert relative_error(transformed, exact) < 1e-6  # the last block of 4 samples is solved like any other


def test_large_lambda_gives_the_vanilla_gradient(batch):
    _, _, _, adv, scores = batch
    lam = 1e8
    transformed = rat.rat_transform(lambda idx: scores[idx], adv, lam, 32, sweeps=1)
    # Ã = A/λ − SSᵀA/(Nλ²) + …: the correction is ‖SSᵀ/N‖/λ ≈ 1e-4 of A at λ = 1e8.
    assert relative_error(lam * transformed, adv) < 1e-3
    assert relative_error(scores.T @ (lam * transformed) / len(adv), scores.T @ adv / len(adv)) < 1e-3


def test_fisher_quadratic_identity(batch):
    _, _, _, adv, scores = batch
    lam, n = 0.1, len(adv)
    transformed = rat.dense_transform(scores, adv, lam)
    natural_grad = scores.T @ transformed / n
    fisher_quad = (scores @ natural_grad).pow(2).sum() / n  # ĝᵀFĝ = ‖Sĝ‖²/N
    # Exact algebra once Ã solves the system: Sĝ = A − λÃ (RAT.md §1, checked there to 1e-15).
    assert abs(fisher_quad - (adv - lam * transformed).pow(2).mean()) < 1e-10 * fisher_quad


def test_backprop_equals_scores_transpose_transformed_adv(batch):
    actor, obs, actions, adv, scores = batch
    transformed = rat.rat_transform(rat.make_score_fn(actor, obs, actions), adv, 0.1, 32, sweeps=3)
    loss = (transformed * rat.gaussian_log_prob(*actor(obs), actions)).mean()
    backprop = torch.cat([g.flatten() for g in torch.autograd.grad(loss, list(actor.parameters()))])
    # Direct backpropagation: ∇θ mean(Ã log πθ) = SᵀÃ/N holds for any Ã, to float64 round-off.
    assert relative_error(backprop, scores.T @ transformed / len(adv)) < 1e-10


def test_entropy_bonus_as_an_advantage_has_the_entropy_gradient():
    # With A = 0 the shaped advantage −c·(log π − mean) must backpropagate to c·∇H: for the state-independent
    # log σ, H = Σ_j log σ_j + const per state, so c on each log σ_j and nothing on the mean network (Monte Carlo).
    torch.manual_seed(0)
    actor = rat.Actor(OBS_DIM, ACT_DIM).double()
    obs = torch.randn(400_000, OBS_DIM, dtype=torch.float64)
    with torch.no_grad():
        mean, log_std = actor(obs)
        actions = mean + log_std.exp() * torch.randn_like(mean)
        log_probs = rat.gaussian_log_prob(mean, log_std, actions)
    shaped = rat.add_entropy_bonus(torch.zeros_like(log_probs), log_probs, ent_coef=0.5)
    (rat.gaussian_log_prob(*actor(obs), actions) * shaped).mean().backward()
    assert actor.log_std.grad == pytest.approx([0.5, 0.5], abs=0.01)
    assert max(p.grad.abs().max().item() for p in actor.mean.parameters()) < 0.01


def test_score_product_is_scores_times_direction(batch):
    actor, obs, actions, _, scores = batch
    direction = [torch.randn_like(p) for p in actor.parameters()]
    flat = torch.cat([v.flatten() for v in direction])
    assert relative_error(rat.score_product(actor, obs, actions, direction), scores @ flat) < 1e-10


def test_same_generator_gives_the_same_transform(batch):
    _, _, _, adv, scores = batch
    run = lambda: rat.rat_transform(lambda idx: scores[idx], adv, 0.1, 32, 2, generator=torch.Generator().manual_seed(7))
    assert torch.equal(run(), run())


def test_npg_step_takes_the_target_kl_and_reports_the_exact_residual(batch):
    actor, obs, actions, adv, scores = batch
    before = [p.detach().clone() for p in actor.parameters()]
    transformed = rat.dense_transform(scores, adv, 0.1)
    stats = rat.npg_step(actor, obs, actions, adv, transformed, target_kl=0.01, line_search=True)
    assert stats["accepted"] == 1.0 and 0 < stats["kl"] <= 0.01
    assert stats["improvement"] > 0
    # With the exact Ã, Sĝ = A − λÃ: the residual the training loop logs is zero up to round-off.
    residual = (adv - stats["scores_direction"] - 0.1 * transformed).norm() / adv.norm()
    assert residual < 1e-10
    with torch.no_grad():
        for p, p0 in zip(actor.parameters(), before):
            p.copy_(p0)


def test_max_kl_factor_bounds_the_most_moved_state(batch):
    actor, obs, actions, adv, scores = batch
    before = [p.detach().clone() for p in actor.parameters()]
    transformed = rat.dense_transform(scores, adv, 0.1)
    with torch.no_grad():
        old_mean, old_log_std = (t.clone() for t in actor(obs))
    free = rat.npg_step(actor, obs, actions, adv, transformed, target_kl=0.01, line_search=True)
    with torch.no_grad():
        mean, log_std = (t.clone() for t in actor(obs))
        for p, p0 in zip(actor.parameters(), before):
            p.copy_(p0)
    # the reported max_kl is the largest per-state KL of the accepted step, above its mean
    assert free["max_kl"] == pytest.approx(rat.gaussian_kl(old_mean, old_log_std, mean, log_std).max().item())
    assert free["max_kl"] > free["kl"]
    factor = 0.5 * free["max_kl"] / 0.01  # a bound the free step breaks
    bounded = rat.npg_step(actor, obs, actions, adv, transformed, target_kl=0.01, line_search=True, max_kl_factor=factor)
    assert bounded["accepted"] == 1.0 and bounded["max_kl"] <= factor * 0.01 and bounded["backtracks"] > free["backtracks"]
    with torch.no_grad():
        for p, p0 in zip(actor.parameters(), before):
            p.copy_(p0)


def test_npg_step_without_line_search_lands_near_the_target_kl(batch):
    actor, obs, actions, adv, scores = batch
    before = [p.detach().clone() for p in actor.parameters()]
    stats = rat.npg_step(actor, obs, actions, adv, rat.dense_transform(scores, adv, 0.1), target_kl=1e-4, line_search=False)
    # The step is sized by the empirical Fisher; the true KL is its expectation, close for small steps.
    assert 0.2e-4 < stats["kl"] < 5e-4
    with torch.no_grad():
        for p, p0 in zip(actor.parameters(), before):
            p.copy_(p0)


def test_npg_step_puts_the_old_parameters_back_when_no_step_is_accepted(batch):
    actor, obs, actions, adv, _ = batch
    before = torch.cat([p.detach().flatten() for p in actor.parameters()])
    # Ascending the negated advantage can never improve the surrogate in A.
    stats = rat.npg_step(actor, obs, actions, adv, -adv, target_kl=0.01, line_search=True)
    assert stats["accepted"] == 0.0
    assert torch.equal(torch.cat([p.detach().flatten() for p in actor.parameters()]), before)


def test_npg_step_refuses_a_non_finite_direction(batch):
    actor, obs, actions, adv, _ = batch
    with pytest.raises(FloatingPointError, match="rat-lambda"):
        rat.npg_step(actor, obs, actions, adv, torch.full_like(adv, float("nan")), 0.01, True)


def test_a_second_natural_step_solves_for_the_importance_weighted_surrogate_at_the_moved_policy(batch):
    actor, obs, actions, adv, _ = batch
    actor = copy.deepcopy(actor)
    with torch.no_grad():
        old_log_prob = rat.gaussian_log_prob(*actor(obs), actions)
        for p in actor.parameters():
            p.add_(0.05 * torch.randn_like(p))  # the policy after a first step
    lam = 0.1
    surrogate = ((rat.gaussian_log_prob(*actor(obs), actions) - old_log_prob).exp() * adv).mean()  # mean(ρ A), ρ not detached
    surrogate_grad = torch.cat([g.flatten() for g in torch.autograd.grad(surrogate, list(actor.parameters()))])
    moved_scores = rat.make_score_fn(actor, obs, actions)(torch.arange(len(adv)))
    n, d = moved_scores.shape
    natural = torch.linalg.solve(moved_scores.T @ moved_scores / n + lam * torch.eye(d, dtype=torch.float64), surrogate_grad)
    with torch.no_grad():
        ratio = (rat.gaussian_log_prob(*actor(obs), actions) - old_log_prob).exp()
    transformed = rat.transform_advantages(actor, obs, actions, ratio * adv, rat.Args(transform="dense", rat_lambda=lam))
    backprop = torch.cat([g.flatten() for g in torch.autograd.grad((transformed * rat.gaussian_log_prob(*actor(obs), actions)).mean(), list(actor.parameters()))])
    # Two exact float64 solves of the same d-dimensional system, one through Woodbury: round-off on a condition number ≤ ~1e6.
    assert relative_error(backprop, natural) < 1e-8


def test_natural_steps_take_the_second_step_from_rho_a_and_report_kl_from_the_batch_policy(batch):
    actor, obs, actions, adv, _ = batch
    args = rat.Args(transform="dense", rat_lambda=0.1, npg_steps=2)  # dense: no random blocks, so both paths are exact
    with torch.no_grad():
        old_mean, old_log_std = actor(obs)
        old_log_prob = rat.gaussian_log_prob(old_mean, old_log_std, actions)
    transformed = rat.transform_advantages(actor, obs, actions, adv, args)
    two_steps = copy.deepcopy(actor)
    stats = rat.natural_steps(two_steps, obs, actions, old_log_prob, adv, transformed, 0.005, args)
    # The same two steps written out: npg_step on Ã(A), then npg_step on Ã(ρA) solved at the moved policy.
    by_hand = copy.deepcopy(actor)
    rat.npg_step(by_hand, obs, actions, adv, transformed, 0.005, True)
    with torch.no_grad():
        ratio = (rat.gaussian_log_prob(*by_hand(obs), actions) - old_log_prob).exp()
    rat.npg_step(by_hand, obs, actions, ratio * adv, rat.transform_advantages(by_hand, obs, actions, ratio * adv, args), 0.005, True)
    assert stats["steps_taken"] == 2 and torch.equal(params_of(two_steps), params_of(by_hand))
    with torch.no_grad():
        kl_from_batch_policy = rat.gaussian_kl(old_mean, old_log_std, *two_steps(obs)).mean().item()
    # The line search holds each step to δ from its own start; from the batch's policy two steps went further.
    assert stats["kl"] == kl_from_batch_policy and 0.005 < stats["kl"] <= 4 * 0.005


def test_several_natural_steps_per_batch_train(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = rat.train(rat.Args(**TINY, npg_steps=3))
    assert result["global_step"] == 256 and torch.isfinite(params_of(result["agent"])).all()


def test_gae_matches_the_recursion_written_out():
    rewards = torch.tensor([[1.0], [2.0], [3.0]])
    values = torch.tensor([[0.5], [1.0], [1.5]])
    dones = torch.tensor([[0.0], [1.0], [0.0]])  # the episode ends after step 1
    gamma, lam = 0.9, 0.8
    adv, returns = rat.compute_gae(rewards, values, dones, torch.tensor([2.0]), gamma, lam)
    delta2 = 3.0 + gamma * 2.0 - 1.5
    delta1 = 2.0 - 1.0  # no bootstrap across the episode's end
    delta0 = 1.0 + gamma * 1.0 - 0.5
    expected = torch.tensor([[delta0 + gamma * lam * delta1], [delta1], [delta2]])
    assert torch.allclose(adv, expected) and torch.allclose(returns, expected + values)


def test_obs_normalizer_matches_the_statistics_of_all_observations():
    normalizer = rat.ObsNormalizer(3)
    data = torch.randn(500, 3, dtype=torch.float64) * torch.tensor([1.0, 5.0, 0.1]) + 7
    for chunk in data.split(37):
        normalizer.update(chunk)
    assert torch.allclose(normalizer.mean, data.mean(0), atol=1e-8)
    assert torch.allclose(normalizer.var, data.var(0, unbiased=False), rtol=1e-6)


# ---------------------------------------------------------------------------- end to end

TINY = dict(env_id="InvertedPendulum-v5", num_steps=128, num_minibatches=4, update_epochs=2, total_timesteps=256, eval_episodes=2)


def run_script(*flags, cwd, timeout=120):
    return subprocess.run([sys.executable, os.path.join(ROOT, "rat_continuous_action.py"), *flags], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def params_of(agent):
    return torch.cat([p.detach().flatten() for p in agent.parameters()])


def test_training_writes_events_and_a_checkpoint_that_resumes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = rat.train(rat.Args(**TINY, save_model=True))
    run_dir = tmp_path / "runs" / first["run_name"]
    assert any(name.startswith("events.out.tfevents") for name in os.listdir(run_dir))
    assert first["global_step"] == 256 and all(map(torch.isfinite, torch.tensor(first["eval_returns"])))
    resumed = rat.train(rat.Args(**dict(TINY, total_timesteps=512), resume=first["checkpoint"], save_model=True))
    assert resumed["run_name"] == first["run_name"] and resumed["global_step"] == 512
    assert not torch.equal(params_of(resumed["agent"]), params_of(first["agent"]))


def test_same_seed_gives_identical_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runs = [rat.train(rat.Args(**TINY, seed=5)) for _ in range(2)]
    assert runs[0]["episode_returns"] and runs[0]["episode_returns"] == runs[1]["episode_returns"]
    assert torch.equal(params_of(runs[0]["agent"]), params_of(runs[1]["agent"]))


@pytest.mark.parametrize("flags", [dict(update="ppo"), dict(update="npg-ppo"), dict(rat_factored=False), dict(transform="dense"), dict(transform="none", line_search=False), dict(ent_coef=0.01)])
def test_every_update_and_transform_trains(tmp_path, monkeypatch, flags):
    monkeypatch.chdir(tmp_path)
    result = rat.train(rat.Args(**TINY, **flags))
    assert torch.isfinite(params_of(result["agent"])).all()


def test_log_std_init_sets_the_first_batchs_noise(tmp_path, monkeypatch):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    monkeypatch.chdir(tmp_path)
    assert torch.equal(rat.Agent(4, 2, log_std_init=-1.0).actor.log_std, torch.full((2,), -1.0))
    result = rat.train(rat.Args(**dict(TINY, total_timesteps=128), log_std_init=-1.0))
    events = EventAccumulator(str(tmp_path / "runs" / result["run_name"]))
    events.Reload()
    # σ after the first step: a step of KL ≤ 0.04 moves log σ of the one action dimension by at most 0.22 (0.25: a margin)
    assert abs(math.log(events.Scalars("policy/std")[0].value) + 1.0) < 0.25


def test_npg_ppo_takes_the_npg_step_then_moves_further_by_the_clipped_surrogate(tmp_path, monkeypatch):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    monkeypatch.chdir(tmp_path)
    logged = {}
    for update in ("npg", "npg-ppo"):
        result = rat.train(rat.Args(**dict(TINY, total_timesteps=128), update=update, exp_name=update))  # a run directory each
        events = EventAccumulator(str(tmp_path / "runs" / result["run_name"]))
        events.Reload()
        logged[update] = {tag: events.Scalars(tag)[0].value for tag in events.Tags()["scalars"] if tag.startswith("policy/")}
    # Same seed, same rollout, same critic: the natural step of npg-ppo is npg's, to the bit
    assert logged["npg-ppo"]["policy/npg_kl"] == logged["npg"]["policy/kl"] > 0
    assert logged["npg-ppo"]["policy/fisher_quad"] == logged["npg"]["policy/fisher_quad"]
    # then PPO's epochs move the policy on, from where the natural step left it
    assert "policy/clip_frac" in logged["npg-ppo"] and logged["npg-ppo"]["policy/kl"] != logged["npg-ppo"]["policy/npg_kl"]


def test_annealed_target_kl_shrinks_linearly_and_bounds_every_step(tmp_path, monkeypatch):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    monkeypatch.chdir(tmp_path)
    # one step per batch: policy/kl is then that step's KL, which the line search bounds by the iteration's δ
    result = rat.train(rat.Args(**dict(TINY, total_timesteps=512), target_kl=0.02, anneal_target_kl=True, npg_steps=1))
    events = EventAccumulator(str(tmp_path / "runs" / result["run_name"]))
    events.Reload()
    targets = [event.value for event in events.Scalars("policy/target_kl")]
    assert targets == pytest.approx([0.02, 0.015, 0.01, 0.005])
    # The line search holds each step to that iteration's δ, not the initial one.
    assert all(event.value <= target for event, target in zip(events.Scalars("policy/kl"), targets))


def test_final_target_kl_moves_delta_linearly_to_it(tmp_path, monkeypatch):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    monkeypatch.chdir(tmp_path)
    result = rat.train(rat.Args(**dict(TINY, total_timesteps=512), target_kl=0.06, final_target_kl=0.02, npg_steps=1))
    events = EventAccumulator(str(tmp_path / "runs" / result["run_name"]))
    events.Reload()
    # four iterations: δ = 0.02 + 0.04 · (the share of the run still ahead)
    targets = [event.value for event in events.Scalars("policy/target_kl")]
    assert targets == pytest.approx([0.06, 0.05, 0.04, 0.03])
    assert all(event.value <= target for event, target in zip(events.Scalars("policy/kl"), targets))
    # the most-moved state's KL is logged beside the mean
    assert all(most.value >= mean.value for most, mean in zip(events.Scalars("policy/max_kl"), events.Scalars("policy/kl")))


def test_final_gamma_rises_linearly_into_the_advantages(tmp_path, monkeypatch):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    monkeypatch.chdir(tmp_path)
    gammas = []  # the γ each iteration's GAE ran with
    real_gae = rat.compute_gae
    monkeypatch.setattr(rat, "compute_gae", lambda *args: gammas.append(args[4]) or real_gae(*args))
    result = rat.train(rat.Args(**dict(TINY, total_timesteps=512), gamma=0.99, final_gamma=1.0))
    # four iterations: γ = 1 − 0.01 · (the share of the run still ahead), from --gamma towards --final-gamma
    assert gammas == pytest.approx([0.99, 0.9925, 0.995, 0.9975])
    events = EventAccumulator(str(tmp_path / "runs" / result["run_name"]))
    events.Reload()
    assert [event.value for event in events.Scalars("charts/gamma")] == pytest.approx(gammas)


def test_deepmind_control_state_task_trains(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = rat.train(rat.Args(**dict(TINY, env_id="dm_control/cartpole-balance-v0")))
    assert result["global_step"] == 256 and torch.isfinite(params_of(result["agent"])).all()


def test_saved_checkpoint_evaluates_like_the_live_agent(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = rat.train(rat.Args(**TINY, save_model=True))
    live, _ = rat.evaluate(result["agent"], TINY["env_id"], 2, seed=rat.Args.seed + 1_000_000)
    args = rat.Args(eval_checkpoint=result["checkpoint"], eval_episodes=2)
    # The normalization statistics travel inside the agent's state: same policy, same returns.
    assert rat.evaluate_checkpoint(args) == live == result["eval_returns"]
    assert rat.evaluate_checkpoint(args) == live
    assert (tmp_path / "runs" / result["run_name"] / "eval.csv").read_text().count("\n") == 4


def test_wider_critic_trains_and_its_checkpoint_evaluates(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = rat.train(rat.Args(**TINY, critic_hidden=16, save_model=True))
    assert [layer.out_features for layer in result["agent"].critic if isinstance(layer, torch.nn.Linear)] == [16, 16, 1]
    assert [layer.out_features for layer in result["agent"].actor.mean if isinstance(layer, torch.nn.Linear)] == [64, 64, 1]
    assert rat.evaluate_checkpoint(rat.Args(eval_checkpoint=result["checkpoint"], eval_episodes=2)) == result["eval_returns"]


def test_evaluation_with_video_writes_one_mp4_per_episode(tmp_path):
    torch.manual_seed(0)
    agent = rat.Agent(4, 1)  # InvertedPendulum-v5: an untrained policy drops the pole within a few dozen steps
    returns, _ = rat.evaluate(agent, "InvertedPendulum-v5", 2, seed=0, video_folder=str(tmp_path / "videos"))
    assert len(returns) == 2
    assert sorted(path.suffix for path in (tmp_path / "videos").iterdir()) == [".mp4", ".mp4"]


def test_training_records_videos_on_gymnasiums_schedule_not_every_episode(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = rat.train(rat.Args(**TINY, capture_video=True))
    started = len(result["episode_returns"]) + 1  # the last episode is cut off by the end of training
    # Episodes 0, 1, 8, 27, …: recording every episode would make a long run crawl at CPU rendering speed.
    expected = sum(1 for episode in (0, 1, 8, 27, 64) if episode < started)
    assert started > 8 and len(list((tmp_path / "videos").rglob("*.mp4"))) == expected


def test_videos_follow_the_body_and_render_without_multisampling(tmp_path):
    import mujoco

    env = rat.make_env("Hopper-v5", video_folder=str(tmp_path / "videos"))()
    model = env.unwrapped.model
    # Gymnasium's default free camera stays where the hopper started; the model's "track" camera follows it.
    assert env.unwrapped.mujoco_renderer.camera_id == mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, "track")
    assert (model.vis.quality.offsamples, model.vis.quality.shadowsize) == (0, 0)
    env.close()


@pytest.mark.parametrize("flags, message", [
    (["--rat-lambda", "0"], "--rat-lambda must be > 0"),
    (["--rat-block-size", "0"], "--rat-block-size must be"),
    (["--ent-coef", "-0.1"], "--ent-coef must be ≥ 0"),
    (["--critic-hidden", "0"], "--critic-hidden must be ≥ 1"),
    (["--log-std-init", "-9"], "--log-std-init must lie in [-5, 2]"),
    (["--num-minibatches", "7"], "must divide into --num-minibatches 7"),
    (["--num-steps", "1", "--num-minibatches", "1", "--total-timesteps", "1"], "at least 2 samples"),
    (["--gamma", "1.5"], "--gamma and --gae-lambda must lie in [0, 1]"),
    (["--final-gamma", "1.5"], "--final-gamma must lie in [0, 1]"),
    (["--final-target-kl", "-0.01"], "--final-target-kl must be ≥ 0"),
    (["--final-target-kl", "0.01", "--anneal-target-kl"], "give one"),
    (["--max-kl-factor", "0.5"], "--max-kl-factor must be ≥ 1"),
    (["--env-id", "ALE/Breakout-v5"], "run rat_atari_dmc_pixels.py"),
    (["--env-id", "CartPole-v1"], "needs continuous (Box) actions"),
    (["--env-id", "NoSuchTask-v0"], "unknown --env-id"),
    (["--resume", "missing.pt"], "does not exist"),
    (["--eval-checkpoint", "missing.pt"], "does not exist"),
])
def test_bad_input_stops_with_one_clear_sentence(tmp_path, flags, message):
    result = run_script(*flags, cwd=tmp_path)
    assert result.returncode != 0
    assert message in result.stderr and "Traceback" not in result.stderr


def test_resume_continues_with_the_checkpoints_own_flags(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = rat.train(rat.Args(**TINY, update="ppo", save_model=True))
    # Flags that change what is learned come from the checkpoint, whatever the command line says.
    resumed = rat.train(rat.Args(**dict(TINY, total_timesteps=512), resume=first["checkpoint"], save_model=True))
    assert torch.load(resumed["checkpoint"], weights_only=True)["args"]["update"] == "ppo"
    with pytest.raises(SystemExit, match="pass a larger --total-timesteps"):
        rat.train(rat.Args(**TINY, resume=resumed["checkpoint"]))


def test_an_indefinite_system_stops_with_advice_not_a_lapack_error():
    with pytest.raises(FloatingPointError, match="raise --rat-lambda"):
        rat.cholesky(torch.tensor([[1.0, 2.0], [2.0, 1.0]], dtype=torch.float64))


def test_checkpoint_of_another_env_or_a_corrupt_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    checkpoint = rat.train(rat.Args(**dict(TINY, total_timesteps=128), save_model=True))["checkpoint"]
    result = run_script("--resume", checkpoint, "--env-id", "Hopper-v5", cwd=tmp_path)
    assert result.returncode != 0 and "is a checkpoint of InvertedPendulum-v5" in result.stderr
    (tmp_path / "corrupt.pt").write_bytes(b"not a checkpoint")
    result = run_script("--eval-checkpoint", "corrupt.pt", cwd=tmp_path)
    assert result.returncode != 0 and "not a readable checkpoint" in result.stderr


def test_ctrl_c_saves_a_checkpoint(tmp_path):
    process = subprocess.Popen([sys.executable, os.path.join(ROOT, "rat_continuous_action.py"), "--env-id", "InvertedPendulum-v5",
                                "--num-steps", "128", "--num-minibatches", "4", "--update-epochs", "1", "--total-timesteps", "1000000"],
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout.readline().startswith("step")  # training is under way
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 130 and "checkpoint of step" in out
    [run_dir] = os.listdir(tmp_path / "runs")
    checkpoint = torch.load(tmp_path / "runs" / run_dir / "checkpoint.pt", weights_only=True)
    # The run finishes the iteration under way, so the checkpoint holds whole batches of 128 steps.
    assert checkpoint["global_step"] == 128 * checkpoint["iteration"] > 0
