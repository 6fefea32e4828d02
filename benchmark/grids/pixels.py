"""Issue 10's grid: RAT against PPO, TRPO and natural actor-critic from pixels, same budget, same seeds.

PPO is rat_atari_dmc_pixels.py with `--transform none`, so PPO and RAT share every line but the
transform; TRPO and natural actor-critic (`--no-line-search`) are trpo_atari_dmc_pixels.py with the
same wrappers, encoder and critic training.

The budget is short on purpose: one 100k-agent-step run takes about 25 min (cartpole-swingup) and
12 min (Breakout) on one CPU core, so the grid's 24 runs need about 7.5 core-hours.

    python benchmark/run_grid.py --grid benchmark/grids/pixels.py
    python benchmark/report.py --grid benchmark/grids/pixels.py --bar --filter 100k --out-dir benchmark/results/pixels
"""

METHODS = {
    "rat": ["rat_atari_dmc_pixels.py"],
    "ppo": ["rat_atari_dmc_pixels.py", "--transform", "none"],
    "trpo": ["trpo_atari_dmc_pixels.py"],
    "nac": ["trpo_atari_dmc_pixels.py", "--no-line-search"],
}
ENVS = ["dm_control/cartpole-swingup-v0", "ALE/Breakout-v5"]
SEEDS = [1, 2, 3]
TOTAL_TIMESTEPS = 100_000
COMMON_FLAGS = ["--save-model", "--checkpoint-every", "10"]

# RAT.md §6, from pixels: cartpole-swingup ≥ 200 at the end of 100k agent steps, where SB3 PPO fell back to the
# do-nothing return of about 75 in every seed. Breakout's bar (≥ 17.3) is at 500k agent steps, not this budget.
BAR = {"dm_control/cartpole-swingup-v0": 200}
