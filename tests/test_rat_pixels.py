"""Specification of rat_atari_dmc_pixels.py.

The transform meets the oracles of RAT.md §4 on CNN policies with both heads; the factored fast path
equals the materialized score matrix; the script trains, resumes and evaluates on Atari and DeepMind
Control from pixels, and stops with one sentence on a user's mistake.
"""

import dataclasses
import os
import signal
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import rat_atari_dmc_pixels as pixels  # noqa: E402

torch.set_num_threads(1)  # the batches here are tiny: on a shared CPU, threads cost more than they give

HEADS = {"categorical": gym.spaces.Discrete(3), "gaussian": gym.spaces.Box(-1.0, 1.0, (2,))}
LAM = 0.1


def relative_error(estimate: torch.Tensor, exact: torch.Tensor) -> float:
    return ((estimate - exact).norm() / exact.norm()).item()


def tiny_batch(action_space, n: int = 48, separate_encoders: bool = False, seed: int = 0):
    """A ~1k-parameter CNN policy in float64 on 2×36×36 frames, its actions, and advantages that depend on them."""
    torch.manual_seed(seed)
    agent = pixels.Agent((2, 36, 36), action_space, separate_encoders, channels=(4, 4, 4), hidden=16).double()
    obs = torch.randint(0, 256, (n, 2, 36, 36), dtype=torch.uint8)
    with torch.no_grad():
        dist = agent(obs)
        actions = dist.sample().double()
        adv = dist.log_prob(actions) + 0.5 * torch.randn(n, dtype=torch.float64)
    return agent, obs, actions, (adv - adv.mean()) / adv.std()


@pytest.fixture(scope="module", params=list(HEADS))
def batch(request):
    agent, obs, actions, adv = tiny_batch(HEADS[request.param])
    scores = pixels.make_score_fn(agent, obs, actions)(torch.arange(len(obs)))  # S, (N, d)
    return agent, obs, actions, adv, scores


# ---------------------------------------------------------------------------- the oracles of RAT.md §4


def test_dense_woodbury_matches_dense_fisher_solve(batch):
    agent, obs, actions, adv, scores = batch
    n, d = scores.shape
    fisher = scores.T @ scores / n + LAM * torch.eye(d, dtype=torch.float64)
    natural_grad = torch.linalg.solve(fisher, scores.T @ adv / n)  # (F + λI)⁻¹ g, d × d
    transformed_adv = pixels.dense_transform(scores, adv, LAM)
    # Two float64 solves of systems with condition number ≤ 1e2 (measured 6 and 64): round-off far below 1e-9.
    assert relative_error(scores.T @ transformed_adv / n, natural_grad) < 1e-9


def test_one_full_block_is_exact(batch):
    agent, obs, actions, adv, scores = batch
    score_fn = pixels.make_score_fn(agent, obs, actions)
    exact = pixels.dense_transform(scores, adv, LAM)
    one_block = pixels.rat_transform(score_fn, adv, LAM, block_size=len(adv), sweeps=1)
    assert relative_error(one_block, exact) < 1e-10  # the same Cholesky solve, float64


def test_rat_converges_to_dense_as_sweeps_grow(batch):
    agent, obs, actions, adv, scores = batch
    score_fn = scores.__getitem__  # the materialized S, looked up block by block
    n = len(adv)
    exact_grad = scores.T @ pixels.dense_transform(scores, adv, LAM) / n
    errors = []
    for sweeps in (1, 2, 4, 8, 16):
        transformed_adv = pixels.rat_transform(score_fn, adv, LAM, 8, sweeps, torch.Generator().manual_seed(0))
        errors.append(relative_error(scores.T @ transformed_adv / n, exact_grad))
    # Sketch-and-project converges linearly; measured here 0.61 → 2e-10 (categorical), 0.24 → 5e-4 (Gaussian).
    assert all(later < earlier for earlier, later in zip(errors, errors[1:])), errors
    assert errors[-1] < 1e-2, errors


def test_backprop_of_transformed_surrogate_equals_scores_transpose(batch):
    agent, obs, actions, adv, scores = batch
    transformed_adv = pixels.dense_transform(scores, adv, LAM)
    params = list(agent.policy_parameters().values())
    surrogate = (transformed_adv * agent(obs).log_prob(actions)).mean()
    backprop = torch.cat([g.flatten() for g in torch.autograd.grad(surrogate, params)])
    assert relative_error(backprop, scores.T @ transformed_adv / len(adv)) < 1e-10  # the same sums, float64


def test_large_lambda_limit_and_fisher_quadratic(batch):
    agent, obs, actions, adv, scores = batch
    n = len(adv)
    lam = 1e6
    # Ã = A/λ − SSᵀA/(Nλ²) + …: the first correction is ‖SSᵀ/N‖/λ relative, measured 6e-8 and 5e-6 here.
    assert relative_error(lam * pixels.dense_transform(scores, adv, lam), adv) < 1e-4
    transformed_adv = pixels.dense_transform(scores, adv, LAM)
    natural_grad = scores.T @ transformed_adv / n
    fisher_quad = (scores @ natural_grad).pow(2).mean()  # ĝᵀFĝ = ‖Sĝ‖²/N
    assert abs(fisher_quad - (adv - LAM * transformed_adv).pow(2).mean()) / fisher_quad < 1e-9
    direction = list(natural_grad.split([p.numel() for p in agent.policy_parameters().values()]))
    direction = [g.view_as(p) for g, p in zip(direction, agent.policy_parameters().values())]
    assert relative_error(pixels.score_product(agent, obs, actions, direction), scores @ natural_grad) < 1e-10


# ---------------------------------------------------------------------------- the factored fast path


@pytest.mark.parametrize("head", list(HEADS))
@pytest.mark.parametrize("separate_encoders", [False, True])
def test_factored_products_equal_materialized(head, separate_encoders):
    agent, obs, actions, adv = tiny_batch(HEADS[head], separate_encoders=separate_encoders)
    scores = pixels.make_score_fn(agent, obs, actions)(torch.arange(len(obs)))
    factored = pixels.FactoredScores.of_batch(agent, obs, actions, chunk_size=20)  # chunks of 20 straddle the blocks
    assert factored.shape == scores.shape  # the policy's parameters only: never the critic's
    block, other = torch.randperm(len(obs))[:10], torch.randperm(len(obs))[:7]
    w, delta = torch.randn(scores.shape[1], dtype=torch.float64), torch.randn(10, dtype=torch.float64)
    # float64 sums of at most a few thousand terms in another order: round-off about 1e-15.
    assert relative_error(factored(block) @ factored(other).T, scores[block] @ scores[other].T) < 1e-12
    assert relative_error(factored(block) @ w, scores[block] @ w) < 1e-12
    assert relative_error(factored(block).T @ delta, scores[block].T @ delta) < 1e-12
    assert relative_error(pixels.dense_transform(factored, adv, LAM), pixels.dense_transform(scores, adv, LAM)) < 1e-12
    rat = [pixels.rat_transform(fn, adv, LAM, 16, 3, torch.Generator().manual_seed(1))
           for fn in (factored, pixels.make_score_fn(agent, obs, actions))]
    assert relative_error(rat[0], rat[1]) < 1e-12


@pytest.mark.parametrize("obs_shape, action_space", [((4, 84, 84), gym.spaces.Discrete(4)), ((9, 84, 84), gym.spaces.Box(-1.0, 1.0, (1,)))],
                         ids=["atari", "dm_control"])
def test_factored_products_on_the_nature_cnn(obs_shape, action_space):
    torch.manual_seed(0)
    agent = pixels.Agent(obs_shape, action_space)
    obs = torch.randint(0, 256, (6, *obs_shape), dtype=torch.uint8)
    with torch.no_grad():
        actions = agent(obs).sample().float()
    scores = pixels.make_score_fn(agent, obs, actions)(torch.arange(6))  # (6, 1.69M)
    adv = torch.randn(6)
    delta = torch.randn(6)
    w = torch.randn(scores.shape[1])
    # float32 sums of up to 1.7M terms in another order: about 1e-7 relative, measured 3e-7 at worst.
    exact = pixels.FactoredScores.of_batch(agent, obs, actions, torch.float32)
    assert relative_error(exact @ exact.T, scores @ scores.T) < 1e-5
    assert relative_error(exact @ w, scores @ w) < 1e-5
    assert relative_error(exact.T @ delta, scores.T @ delta) < 1e-5
    # bfloat16 convolution rows (the training default) carry 2⁻⁹ relative rounding on about 5% of the parameters.
    rounded = pixels.FactoredScores.of_batch(agent, obs, actions, torch.bfloat16)
    assert relative_error(rounded @ rounded.T, scores @ scores.T) < 1e-3
    assert relative_error(pixels.dense_transform(rounded, adv, LAM), pixels.dense_transform(scores, adv, LAM)) < 1e-3


def test_bfloat16_rows_give_a_positive_semidefinite_gram():
    # Rows of rank 3 stored in bfloat16: their exact Gram has 61 zero eigenvalues. Summed and returned in float32, the
    # block's Gram keeps them at round-off (1e-7 of the largest); rounded to bfloat16 it would go negative by ~1e-3.
    torch.manual_seed(0)
    rows = (torch.randn(64, 3) @ torch.randn(3, 5000)).bfloat16()
    linear = [(torch.zeros(64, 2), torch.zeros(64, 2), slice(5000, 5004), slice(5004, 5006))]
    scores = pixels.FactoredScores(rows, torch.arange(5000), linear, 5006)
    block = scores(torch.arange(64))
    gram = (block @ block.T).double()
    eigenvalues = torch.linalg.eigvalsh(gram)
    assert eigenvalues.min() > -1e-6 * eigenvalues.max()
    assert relative_error(gram, (rows.double() @ rows.double().T)) < 1e-6
    w, delta = torch.randn(5006), torch.randn(64)
    assert relative_error(block @ w, rows.double() @ w[:5000].double()) < 1e-6
    assert relative_error((block.T @ delta)[:5000], rows.double().T @ delta.double()) < 1e-6


def test_ppo_solves_each_minibatch_on_its_own_scores(batch):
    agent, obs, actions, adv, scores = batch
    minibatches = list(torch.randperm(len(adv)).split(16))
    batch_dict = dict(obs=obs, actions=actions)
    args = pixels.Args(rat_lambda=LAM, rat_block_size=16, rat_conv_dtype="float32")
    transformed_adv = pixels.transform_advantages(agent, batch_dict, adv, minibatches, args)
    for mb in minibatches:  # the exact solve on the mini-batch's own S, scaled to unit RMS like A
        exact = pixels.dense_transform(scores[mb], adv[mb], LAM)
        # The convolution rows are float32 here (half this tiny CNN's parameters): 1e-7 relative round-off.
        assert relative_error(transformed_adv[mb], exact / exact.pow(2).mean().sqrt()) < 1e-5
    # As λ → ∞, Ã → A/λ: after the rescaling, PPO's advantages (normalized per mini-batch).
    ppo_limit = pixels.transform_advantages(agent, batch_dict, adv, minibatches, dataclasses.replace(args, rat_lambda=1e8))
    for mb in minibatches:
        assert relative_error(ppo_limit[mb], adv[mb] / adv[mb].pow(2).mean().sqrt()) < 1e-6


# ---------------------------------------------------------------------------- environments


def test_atari_game_continues_after_a_lost_life():
    """The recorded episode is the whole game over all lives, with the raw score; training rewards are clipped."""
    args = pixels.with_family_defaults(pixels.Args(env_id="ALE/Breakout-v5", num_envs=1))
    envs, _ = pixels.make_envs(args, "test")
    obs, info = envs.reset(seed=0)
    assert obs.shape == (1, 4, 84, 84) and obs.dtype == np.uint8
    lives, first_life_lost_at = info["lives"][0], None
    for step in range(1, 5000):
        obs, reward, terminated, truncated, info = envs.step(envs.action_space.sample())
        assert abs(reward[0]) <= 1.0
        if info.get("_episode", [False])[0]:
            break
        if info["lives"][0] < lives and first_life_lost_at is None:
            first_life_lost_at = step
        lives = info["lives"][0]
    envs.close()
    assert first_life_lost_at is not None and info["episode"]["l"][0] == step > first_life_lost_at


def test_dm_control_frames_are_three_stacked_rgb_frames():
    args = pixels.with_family_defaults(pixels.Args(env_id="dm_control/cartpole-swingup-v0"))
    assert args.action_repeat == 8
    assert args.eval_stochastic is False  # the Gaussian mean; Atari samples (an argmax policy can stall Breakout)
    assert pixels.with_family_defaults(pixels.Args(env_id="ALE/Breakout-v5")).eval_stochastic is True
    assert pixels.with_family_defaults(pixels.Args(env_id="ALE/Breakout-v5", eval_stochastic=False)).eval_stochastic is False
    env = pixels.make_env(args.env_id, args.action_repeat, None, True)()
    obs, _ = env.reset(seed=0)
    assert obs.shape == (9, 84, 84) and obs.dtype == np.uint8 and obs.max() > 0
    assert env.unwrapped.physics.model.vis.quality.offsamples == 0
    env.close()


# ---------------------------------------------------------------------------- training, resume, evaluation

TINY = dict(num_envs=2, num_steps=16, num_minibatches=2, cuda=False, eval_episodes=1)


def test_atari_trains_resumes_and_evaluates(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = pixels.Args(env_id="ALE/Breakout-v5", total_timesteps=64, save_model=True, max_episode_steps=40, **TINY)
    first = pixels.train(args)
    assert first["global_step"] == 64 and np.isfinite(first["eval_returns"]).all()
    resumed = pixels.train(dataclasses.replace(args, total_timesteps=96, resume=first["checkpoint"]))
    assert resumed["global_step"] == 96 and resumed["checkpoint"] == first["checkpoint"]
    evaluation = pixels.Args(eval_checkpoint=resumed["checkpoint"], max_episode_steps=40, eval_episodes=1)
    # The checkpoint alone reproduces the in-memory agent's evaluation, and a second evaluation repeats it.
    assert pixels.evaluate_checkpoint(evaluation) == resumed["eval_returns"] == pixels.evaluate_checkpoint(evaluation)
    assert os.path.isfile(os.path.join(os.path.dirname(resumed["checkpoint"]), "eval.csv"))


def test_dm_control_trains_resumes_and_evaluates_with_npg(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = pixels.Args(env_id="dm_control/cartpole-swingup-v0", total_timesteps=64, update="npg", save_model=True,
                       max_episode_steps=20, **TINY)  # time limits inside the rollout: the truncation bootstrap runs
    first = pixels.train(args)
    assert np.isfinite(first["eval_returns"]).all() and len(first["episode_returns"]) == 2
    resumed = pixels.train(dataclasses.replace(args, total_timesteps=96, resume=first["checkpoint"]))
    assert resumed["global_step"] == 96
    evaluation = pixels.Args(eval_checkpoint=resumed["checkpoint"], max_episode_steps=20, eval_episodes=1)
    assert pixels.evaluate_checkpoint(evaluation) == resumed["eval_returns"]


@pytest.mark.parametrize("variant", [dict(transform="none"), dict(transform="dense"), dict(rat_per_minibatch=False),
                                     dict(rat_factored=False), dict(update="npg", transform="none", separate_encoders=True)],
                         ids=["ppo", "dense", "whole-batch-rat", "torch-func-scores", "npg-separate"])
def test_variants_train(tmp_path, monkeypatch, variant):
    monkeypatch.chdir(tmp_path)
    summary = pixels.train(pixels.Args(env_id="ALE/Pong-v5", total_timesteps=32, **TINY, **variant))
    assert all(torch.isfinite(p).all() for p in summary["agent"].parameters())


def test_same_seed_same_weights(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runs = [pixels.train(pixels.Args(env_id="ALE/Breakout-v5", total_timesteps=32, **TINY))["agent"] for _ in range(2)]
    assert all(torch.equal(a, b) for a, b in zip(runs[0].state_dict().values(), runs[1].state_dict().values()))


def test_ctrl_c_saves_a_checkpoint_after_the_iteration(tmp_path):
    process = subprocess.Popen([sys.executable, os.path.join(ROOT, "rat_atari_dmc_pixels.py"), "--num-envs", "2", "--num-steps", "16",
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
    (dict(rat_lambda=0.0), "--rat-lambda"),
    (dict(num_minibatches=3), "--num-minibatches"),
    (dict(total_timesteps=8), "--total-timesteps"),
    (dict(env_id="CartPole-v1"), "neither an Atari nor a DeepMind Control id"),
    (dict(env_id="ALE/NoSuchGame-v5"), "neither an Atari nor a DeepMind Control id"),
    (dict(env_id="dm_control/cartpole-swingup-v0", action_repeat=0), "--action-repeat"),
])
def test_bad_flags_stop_with_one_sentence(flags, message):
    with pytest.raises(SystemExit) as stop:
        pixels.train(pixels.Args(**{**TINY, "total_timesteps": 32, **flags}))
    assert str(stop.value).startswith("error: ") and message in str(stop.value) and "\n" not in str(stop.value)


def test_bad_checkpoints_stop_with_one_sentence(tmp_path):
    corrupt, foreign, missing = tmp_path / "corrupt.pt", tmp_path / "foreign.pt", tmp_path / "missing.pt"
    corrupt.write_bytes(b"not a checkpoint")
    torch.save({"script": "rat_continuous_action", "env_id": "Hopper-v5"}, foreign)
    atari = pixels.Args(env_id="ALE/Pong-v5", total_timesteps=32, **TINY)
    for path, message in [(missing, "does not exist"), (corrupt, "not a readable checkpoint"), (foreign, "not written by")]:
        for args in (dataclasses.replace(atari, resume=str(path)), pixels.Args(eval_checkpoint=str(path))):
            with pytest.raises(SystemExit) as stop:
                pixels.evaluate_checkpoint(args) if args.eval_checkpoint else pixels.train(args)
            assert message in str(stop.value)
    other_env = tmp_path / "pong.pt"
    torch.save({"script": "rat_atari_dmc_pixels", "env_id": "ALE/Breakout-v5"}, other_env)
    with pytest.raises(SystemExit) as stop:  # an --env-id that disagrees with the checkpoint's (the default one may be left out)
        pixels.train(dataclasses.replace(atari, resume=str(other_env)))
    assert "checkpoint of ALE/Breakout-v5" in str(stop.value)


def test_command_line_error_exits_non_zero():
    result = subprocess.run([sys.executable, os.path.join(ROOT, "rat_atari_dmc_pixels.py"), "--rat-sweeps", "0"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode != 0 and result.stderr.strip().splitlines()[-1] == "error: --rat-sweeps must be ≥ 1 (got 0)."


def test_unusable_gl_backend_stops_with_one_sentence():
    result = subprocess.run([sys.executable, os.path.join(ROOT, "rat_atari_dmc_pixels.py"), "--env-id", "dm_control/cartpole-swingup-v0"],
                            capture_output=True, text=True, cwd=ROOT, env={**os.environ, "MUJOCO_GL": "no-such-backend"})
    last_line = result.stderr.strip().splitlines()[-1]
    assert result.returncode != 0 and last_line.startswith("error: cannot load DeepMind Control with MUJOCO_GL=no-such-backend")
