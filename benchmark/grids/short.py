"""A short grid (300k steps, 2 seeds) that screens before the 1M-step benchmark.

It answers two questions side by side, on the same seeds: which policy step RAT should use by
default (`rat`, the natural-gradient step, against `rat-ppo`, PPO's clipped surrogate with Ã in
place of A), and where RAT stands against PPO, TRPO and NPG after a short budget.
It ran before the ablation (benchmark/grids/ablation.py) changed RAT's defaults; its RAT jobs spell out the flags they ran with.

    python benchmark/run_grid.py --grid benchmark/grids/short.py
    python benchmark/report.py
"""

METHODS = {
    # one natural step per batch at λ = 0.1, the script's default when this grid ran
    "rat": ["rat_continuous_action.py", "--npg-steps", "1", "--rat-lambda", "0.1", "--target-kl", "0.01", "--log-std-init", "0.0"],
    "rat-ppo": ["rat_continuous_action.py", "--update", "ppo", "--rat-lambda", "0.1", "--log-std-init", "0.0"],
    "ppo": ["ppo_baseline.py"],
    "trpo": ["trpo_baseline.py"],
    "npg": ["trpo_baseline.py", "--no-line-search"],
}
ENVS = ["Hopper-v5", "HalfCheetah-v5"]
SEEDS = [1, 2]
TOTAL_TIMESTEPS = 300_000
COMMON_FLAGS = ["--save-model", "--checkpoint-every", "10"]
