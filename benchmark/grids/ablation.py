"""Which RAT policy step reaches the bar at 1M steps, 3 seeds: the ablation behind the script's defaults.

Every candidate runs the same seeds, Hopper-v5 first since the default falls short there, then
Walker2d-v5 and HalfCheetah-v5 once it is a contender; a candidate stopped early says why in its
comment. `rat` is the script's default (one natural step per batch, λ = 1, δ = 0.04, σ starting at
0.37); its job names are those of benchmark/grids/mujoco.py, so both grids share those runs. The
other candidates spell out every flag that differs from today's default, so their jobs mean what
they meant when they ran: every candidate that starts σ anywhere but today's 0.37 passes
`--log-std-init` (most of those listed before `rat` start it at 1, `--log-std-init 0.0`).

    python benchmark/run_grid.py --grid benchmark/grids/ablation.py
    python benchmark/report.py --grid benchmark/grids/ablation.py --bar --filter 1M --out-dir benchmark/results/ablation \
        --scalars policy/relative_residual policy/kl policy/std policy/backtracks policy/max_kl \
        --plot-methods rat-1-step rat-kl0.02 rat-std1 rat-std0.37 rat rat-kl0.06 rat-n4096 rat-const-lr rat-lam10 rat-vanilla rat-final-gamma0.995 \
        rat-final-gamma0.993-maxkl15
"""

METHODS = {
    # the first default: one natural step per batch, λ = 0.1, δ = 0.01 throughout, line search shrinking by 0.8
    "rat-1-step": ["rat_continuous_action.py", "--npg-steps", "1", "--rat-lambda", "0.1", "--target-kl", "0.01", "--log-std-init", "0.0"],
    # the same total KL budget, front-loaded: δ from 0.02 down to 0 (mean 0.01), as PPO anneals its learning rate
    "rat-kl0.02-annealed": ["rat_continuous_action.py", "--npg-steps", "1", "--rat-lambda", "0.1", "--target-kl", "0.02", "--anneal-target-kl", "--log-std-init", "0.0"],
    # two natural steps of δ = 0.01 per batch, the second re-solved at the moved policy for ρA (data reuse, as PPO's epochs)
    "rat-2-steps": ["rat_continuous_action.py", "--npg-steps", "2", "--rat-lambda", "0.1", "--target-kl", "0.01", "--log-std-init", "0.0"],
    # rat-2-steps with ten times the damping, the default until one step at λ = 1 was measured:
    # benchmark/step_quality.py on a Walker2d policy of rat-2-steps found a step's gain on
    # held-out batches growing with λ from 0.1 to 3 (by 1-2 standard errors), the fit to the batch's own noisy
    # advantages (in-sample gain) not; benchmark/results/step_quality.md
    "rat-2-steps-lam1": ["rat_continuous_action.py", "--npg-steps", "2", "--rat-lambda", "1.0", "--target-kl", "0.01", "--log-std-init", "0.0"],
    # one step at λ = 1 and δ = 0.01, the third default: both two-step candidates plateaued on HalfCheetah-v5
    # (near 1,600 and 1,800) where one step at λ = 0.1 reached 3,080; this keeps λ = 1's converged solve without
    # the second step's movement
    "rat-kl0.01": ["rat_continuous_action.py", "--target-kl", "0.01", "--log-std-init", "0.0"],
    # twice the KL per step, the fourth default: δ = 0.01 moved the policy 0.008 per batch (scalars.md), and
    # sb3-contrib TRPO's 4027 on HalfCheetah (RAT.md §6) came with the RL Zoo's target KL of 0.04
    "rat-kl0.02": ["rat_continuous_action.py", "--target-kl", "0.02", "--log-std-init", "0.0"],
    # --- queued after δ = 0.02 became the default, each changing one thing of it ---
    # δ = 0.04: the step from 0.01 to 0.02 helped on every task; the RL Zoo's TRPO used 0.04 on HalfCheetah
    "rat-kl0.04": ["rat_continuous_action.py", "--target-kl", "0.04", "--log-std-init", "0.0"],
    # λ = 3: step_quality.md's held-out gain was still rising from λ = 1 to 3
    "rat-lam3": ["rat_continuous_action.py", "--target-kl", "0.02", "--rat-lambda", "3.0", "--log-std-init", "0.0"],
    # an entropy bonus of 0.01, entered as an advantage (add_entropy_bonus). Of RAT's HalfCheetah runs that logged
    # policy/std, the five on the 1,200-1,700 plateau ended with σ 0.18-0.26, the seven off it with 0.25-0.34; TRPO's
    # plateau runs kept 0.26-0.27, so σ is at most part of the story. Whether holding σ up keeps RAT off it is measured here
    "rat-ent0.01": ["rat_continuous_action.py", "--target-kl", "0.02", "--ent-coef", "0.01", "--log-std-init", "0.0"],
    # --- queued after rat-lam3 and rat-ent0.01 measured worse than the default on Hopper and Walker2d ---
    # δ = 0.03: δ 0.04 was the best candidate on Hopper (3046) and Walker2d (4182) but stalled on HalfCheetah
    # (1885), where δ 0.02 is the best; whether a step between keeps the gain without the stall is measured here.
    # It was the fifth default (run as rat-kl0.03, `rat` until σ 0.37 replaced it): the best return / bar over the three
    # tasks (0.82 against δ 0.02's 0.80), with one HalfCheetah seed above the bar and two on the plateau near 1,700
    "rat-std1": ["rat_continuous_action.py", "--target-kl", "0.03", "--log-std-init", "0.0"],
    # --- queued with rat-kl0.03's HalfCheetah runs ---
    # half the batch, twice the natural steps: the default's HalfCheetah curve still rises linearly at 1M
    # (results/ablation/HalfCheetah-v5_1M.png), so more, fresher steps of the same δ may pay; 16 mini-batches keep
    # the critic's 64 samples per mini-batch and its gradient steps per sample
    "rat-n1024": ["rat_continuous_action.py", "--target-kl", "0.02", "--num-steps", "1024", "--num-minibatches", "16", "--log-std-init", "0.0"],
    # --- queued after δ = 0.03 became the default, each changing one thing of it ---
    # a tenth of rat-ent0.01's entropy bonus: at δ 0.03 σ fell to 0.19 on HalfCheetah (0.28 at δ 0.02) and two seeds
    # of three stayed on the plateau; 0.01 (at δ 0.02) made σ grow to ~2 on Hopper and Walker2d. Whether a small bonus
    # slows σ's fall without that growth is measured here
    "rat-ent0.001": ["rat_continuous_action.py", "--ent-coef", "0.001", "--log-std-init", "0.0", "--target-kl", "0.03"],
    # --- queued after rat-ent0.001 (all three HalfCheetah seeds on the plateau) ---
    # a smaller initial σ (--log-std-init; σ starts at 1 otherwise). Which HalfCheetah seeds reach the plateau is
    # settled in the first 200k steps (the stalled ones are near 1,000 there, the others past 2,000), while σ is still
    # 0.4-0.9; whether less noise at the start keeps them off it is screened on HalfCheetah first
    "rat-std0.6": ["rat_continuous_action.py", "--log-std-init", "-0.5", "--target-kl", "0.03"],
    # σ 0.37 was the sixth default (`rat` until δ 0.04 replaced it): the best return / bar over the three tasks (1.00
    # against σ 0.6's 0.93 and σ 1's 0.82), every HalfCheetah seed above the bar, one Walker2d seed of three below 2,300
    "rat-std0.37": ["rat_continuous_action.py", "--log-std-init", "-1.0", "--target-kl", "0.03"],
    # --- queued after rat-std0.37 (1.00 of the bar: HalfCheetah 6565, Hopper 2861, Walker2d 3373 with seed 2 stuck
    # near 1,500) and rat-std0.6 (0.93) finished ---
    # σ 0.37 with δ 0.04: at σ 1, δ 0.04 was the best Hopper candidate (3046) and lost only on HalfCheetah, where σ
    # fell onto the plateau (0.22 over the last 10%); σ 0.37 kept every HalfCheetah seed off the plateau.
    # It is the default now (`rat`, run as rat-std0.37-kl0.04): the best return / bar over the three tasks (1.12),
    # above the bar on HalfCheetah and Walker2d, below it on Hopper
    "rat": ["rat_continuous_action.py"],
    # a critic trained as the RL Zoo trains sb3-contrib TRPO's: learning rate 1e-3, 20 epochs of 128-sample mini-batches
    "rat-critic": ["rat_continuous_action.py", "--target-kl", "0.02", "--learning-rate", "1e-3", "--update-epochs", "20", "--num-minibatches", "16", "--log-std-init", "0.0"],
    # --- queued after `rat` (σ 0.37, δ 0.04) reached the bar on HalfCheetah and Walker2d but not Hopper (2782 ± 557) ---
    # Hopper first, each changing one thing of the default. The Hopper seeds below the bar lose episodes to falls
    # (seed 2's final policy: mean length 650 of 1,000), and γ 0.99 values survival about 100 steps ahead; the GAE
    # paper's locomotion runs used γ 0.995 with GAE λ 0.97 (Schulman et al. 2016)
    # Result: two Hopper seeds near the bar (3292, 2724), seed 3 stood still near 1,000 to 550k steps and then fell to
    # 37; slower on every Walker2d seed (3790 ± 132). Dropped, not run on HalfCheetah
    "rat-gamma0.995": ["rat_continuous_action.py", "--gamma", "0.995", "--gae-lambda", "0.97"],
    # twice the Kaczmarz sweeps: with σ starting at 0.37 the solve ends less converged (relative residual 0.21 on
    # Hopper over the last 10%, against 0.09 with σ starting at 1; scalars.md), for about 0.12 s more per batch
    # Result: residual 0.05 over Hopper's last 10%, Hopper 2166 ± 1145 (seed 3 slow from the start) and Walker2d
    # 3859 ± 843 (3319, 4831, 3427; the default: 4636 ± 680). Dropped
    "rat-sweeps6": ["rat_continuous_action.py", "--rat-sweeps", "6"],
    # --- queued after rat-gamma0.995's Hopper seed 3 stood still (return near 1,000, the healthy bonus alone, from 50k
    # to 550k steps) and then fell at once (37) ---
    # twice the batch with twice the KL per step, so the policy moves as far per sample: at σ 1 half the batch at the
    # same δ (rat-n1024) was worse on all three tasks; 64 mini-batches keep the critic's 64 samples per mini-batch
    # Result: the best Hopper mean of the ablation until rat-kl0.06 (3052 ± 310, 154 short of the bar), behind the
    # default on Walker2d (4269 ± 1342) and HalfCheetah (5756 ± 1218): 1.03 of the bar against 1.12. Not adopted
    "rat-n4096": ["rat_continuous_action.py", "--num-steps", "4096", "--num-minibatches", "64", "--target-kl", "0.08"],
    # --- queued after rat-n4096: every Hopper seed of the default still gains late (2,441-3,227 over the last 100k
    # steps, 51-475 above its 500k-600k mean), so the candidates aim to speed up the late phase. Hopper first ---
    # δ 0.06: each rise of δ so far (0.01 → 0.02 → 0.04 at σ 1, 0.03 → 0.04 at σ 0.37) helped on at least two of the
    # three tasks, and the line search still holds every step's true KL ≤ δ
    # Result: Hopper 3089 ± 289 (3135, 3352, 2779; 117 short of the bar), Walker2d 4547 ± 377, HalfCheetah
    # 6498 ± 374: 1.10 of the bar against the default's 1.12, ahead on Hopper, behind on HalfCheetah. Not adopted
    "rat-kl0.06": ["rat_continuous_action.py", "--target-kl", "0.06"],
    # the critic's learning rate held at 3e-4: the policy's step is sized by δ and does not shrink over the run,
    # while the annealed critic learns ever slower from the same number of samples, so the late advantages come
    # from a critic that has nearly stopped following the policy
    # Result: Hopper 2953 ± 198 (3169, 2910, 2779), Walker2d 3975 ± 1210 (5279, 3757, 2888), HalfCheetah 5658 ± 600:
    # 0.99 of the bar. Dropped
    "rat-const-lr": ["rat_continuous_action.py", "--no-anneal-lr"],
    # --- queued after benchmark/step_quality.py on the default's final policies (seed 2, δ 0.04, 24 training and 32
    # held-out batches): the held-out gain of one step rose with λ from 1 to 10-30 on Walker2d-v5 (+0.00033 ± 0.00028
    # at λ 10) and HalfCheetah-v5 (+0.00046 ± 0.00017), within noise on Hopper-v5. With σ down to 0.13 the mean's scores
    # (∝ 1/σ) are ~3 times their size at σ 0.37 and its Fisher ~8 times, so λ = 1 damps ever less; Hopper first ---
    # Result: Hopper 2695 ± 339 (2991, 2769, 2325; the default: 2353, 2582, 3412) and Walker2d 3834 ± 254 (3595, 3806,
    # 4101; the default: 5348, 3994, 4566). σ ended near 0.22 on Hopper (the default: 0.13): more falls, though the full
    # episodes ran faster (returns.csv). Dropped, HalfCheetah not run
    "rat-lam10": ["rat_continuous_action.py", "--rat-lambda", "10.0"],
    # Result: Hopper 2107 ± 294 (2305, 1769, 2245), σ ending near 0.26. Dropped, not run on Walker2d or HalfCheetah
    "rat-lam30": ["rat_continuous_action.py", "--rat-lambda", "30.0"],
    # --- queued after the default's last 20 Hopper episodes per seed (returns.csv): those that ran the full 1,000 steps
    # returned 3,296-3,530 (above the bar), the others fell (1,845-2,747), in 15-75% of the episodes; the stochastic policy's
    # noise costs the training return (the deterministic evaluations: 3063 ± 625). σ ends near 0.13 (seed 2: 0.09-0.17
    # per dimension, step_quality.md) on Hopper; starting at 0.22 asks whether less noise throughout keeps more episodes standing. Hopper first
    # Result: Hopper 2705 ± 283 (3006, 2664, 2444): σ ended lower (0.09-0.12) and more episodes ran the full
    # 1,000 steps (60-80% of the last 20), but those that fell returned less (1135-1798). Dropped
    "rat-std0.22": ["rat_continuous_action.py", "--log-std-init", "-1.5"],
    # σ starting at 0.22 with δ 0.06: the two changes that each raised the Hopper mean over the default on the same
    # seeds (σ 0.22: 3006 and 2664 on seeds 1-2, against 2353 and 2582; δ 0.06: 3089 ± 289 against 2782 ± 557)
    # Result: Hopper seed 1 ended at 1057, in episodes of 293 steps on average (returns.csv). Dropped after it
    "rat-std0.22-kl0.06": ["rat_continuous_action.py", "--log-std-init", "-1.5", "--target-kl", "0.06"],
    # GAE λ 0.9 (Andrychowicz et al. 2021, "What matters in on-policy RL", found 0.9 a good default for PPO): a step's
    # gain on its own batch was 0.09-0.13 at the default's end, its held-out gain below 0.0015 (step_quality.md): the
    # step fits the advantages' noise; a smaller GAE λ trades their variance for the critic's bias. Hopper first
    # Result: Hopper seed 1 2772, seed 2 807 (episodes of 248 steps on average). Dropped after two seeds
    "rat-gae0.9": ["rat_continuous_action.py", "--gae-lambda", "0.9"],
    # --- a control, not a candidate: the same step without the transform, Ã = A (`--transform none`: the vanilla
    # policy gradient, sized by the same KL and line search). λ 10 and 30 (towards this limit) did worse on Hopper in
    # full runs, while step_quality.md found the vanilla step's held-out gain level with theirs ---
    # Result: Hopper 2232 ± 523 (1726, 2770, 2201), Walker2d 3371 ± 476 (3671, 2822, 3622), σ ending near 0.31 on both:
    # behind the default on five seeds of six. HalfCheetah, queued once the Hopper candidates below had run: 3563 ± 374
    # (3536, 3204, 3950; the default: 7584, 7135, 6515), σ ending near 0.30 (the default: 0.11). 0.72 of the bar
    "rat-vanilla": ["rat_continuous_action.py", "--transform", "none"],
    # --- queued after the Hopper fall shares in returns.csv: the candidates that kept more of the last 20 episodes
    # standing were γ 0.995 with GAE λ 0.97 (100% and 75% on seeds 1-2; the default: 35%, 25%, 85%), δ 0.06
    # (85%, 70%, 55%) and the critic's learning rate held (70%, 75%, 65%). A fall's cost, the value of the steps it
    # forfeits, is discounted over ~1/(1-γ) steps; γ 0.995 doubles that horizon. Hopper first ---
    # γ 0.995 alone, GAE λ kept at 0.95: whether rat-gamma0.995's seed 3 (standing still, then collapsing) came with
    # the longer horizon or with the higher-variance advantages of GAE λ 0.97
    # Result: seed 3 stood still for the whole run (949, episodes of 955 steps), as rat-gamma0.995's did before it fell:
    # the trap comes with the horizon, and one seed near 1,000 keeps the mean below the bar. Stopped after seed 3
    "rat-gamma0.995-gae0.95": ["rat_continuous_action.py", "--gamma", "0.995"],
    # the two changes that each raised the Hopper mean and its full share on the same seeds: δ 0.06 (3089 ± 289) and
    # the critic's learning rate held at 3e-4 (2953 ± 198)
    # Result: seed 1 2877 (65% of the last 20 episodes full), below each change alone on that seed (3135, 3168). Stopped
    "rat-kl0.06-const-lr": ["rat_continuous_action.py", "--target-kl", "0.06", "--no-anneal-lr"],
    # --- queued after both: the default's Hopper seeds still gain over the last 100k steps, and every candidate that
    # moved the policy further per sample (δ 0.04 → 0.06) kept more episodes standing at 1M. Two ways to move up to
    # KL 0.08 per batch, Hopper first ---
    # δ 0.08 in one step, the next rise of δ
    # Result: Hopper 2995 ± 135 (3038, 3103, 2844), below δ 0.06's 3089 ± 289. Dropped, not run on Walker2d or HalfCheetah
    "rat-kl0.08": ["rat_continuous_action.py", "--target-kl", "0.08"],
    # two natural steps of δ 0.02, the second re-solved at the moved policy (at most about 4δ = 0.08 from the batch's
    # policy): the batch used twice, as PPO reuses it. At σ 1 two steps helped on Hopper and Walker2d and stalled
    # only on HalfCheetah's plateau (rat-2-steps-lam1 against rat-kl0.01), which σ 0.37 has kept every run off since
    # Result: Hopper seeds 1-2 2557 and 3109 (the default: 2353, 2582); seed 3 would have needed 3,953 for the mean to
    # reach the bar, above any full-episode mean so far. Stopped after seed 2
    "rat-2-steps-kl0.02": ["rat_continuous_action.py", "--npg-steps", "2", "--target-kl", "0.02"],
    # four environments of 512 steps each, the same batch of 2,048: one environment gives a batch of two or three
    # late Hopper episodes from one trajectory, so a fall (a few per batch) is seen in few, correlated states; four
    # trajectories per batch decorrelate the samples the step is fitted to. Hopper first
    # Result: Hopper seed 1 2197 (the default: 2353), seed 2 near 800 at 350k steps (the default: ~1,800). Stopped
    "rat-envs4": ["rat_continuous_action.py", "--num-envs", "4", "--num-steps", "512"],
    # twice the batch with three times the KL per step, so the policy moves 1.5 times as far per sample as the default's:
    # the two directions with the best Hopper means, rat-n4096 (3052, twice the batch, as far per sample) and rat-kl0.06
    # (3089, 1.5 times as far per sample), together. Hopper first
    # Result: Hopper seed 1 2822; seed 2 ended at 832 (episodes of 275 steps on average) after a collapse in its last few
    # batches (its last-20 mean was 3168 at step 987,136). Stopped
    "rat-n4096-kl0.12": ["rat_continuous_action.py", "--num-steps", "4096", "--num-minibatches", "64", "--target-kl", "0.12"],
    # δ 0.05, between the default's 0.04 and 0.06 (which had the best Hopper mean, 3089, and lost on HalfCheetah); δ 0.08
    # did worse on Hopper than 0.06. Hopper first
    # Result: Hopper 2757 ± 214 (2669, 3001, 2601; seed 3 run last), level with the default and behind δ 0.06 on every
    # seed (3135, 3352, 2779). Dropped, not run on Walker2d or HalfCheetah
    "rat-kl0.05": ["rat_continuous_action.py", "--target-kl", "0.05"],
    # GAE λ 0.97 at γ 0.99, the half of rat-gamma0.995 that rat-gamma0.995-gae0.95 left untested: there seeds 1-2 kept
    # 100% and 75% of the last 20 Hopper episodes standing, and γ alone brought seed 3's trap back. A larger GAE λ
    # leans less on the critic's estimate of what follows a risky action and more on the fall the rollout saw; GAE λ
    # 0.9 (more critic, less rollout) did worse. Hopper first
    # Result: Hopper 2473 ± 513 (2015, 2377, 3028; the default: 2353, 2582, 3412), 5-80% of the last 20 episodes full.
    # Dropped, not run on Walker2d or HalfCheetah
    "rat-gae0.97": ["rat_continuous_action.py", "--gae-lambda", "0.97"],
    # half the critic's Adam epochs (5 instead of 10): rat-critic, which fitted the critic harder (lr 1e-3, 20 epochs of
    # 128-sample mini-batches), did worse than its δ 0.02 sibling rat-kl0.02 on all three tasks, so the critic may fit
    # each batch's returns too closely to judge the next batch's actions. Hopper first
    # Result: Hopper 2735 ± 216 (2825, 2892, 2489; the default: 2353, 2582, 3412), level with the default. Dropped, not
    # run on Walker2d or HalfCheetah
    "rat-epochs5": ["rat_continuous_action.py", "--update-epochs", "5"],
    # a critic of 256-256 instead of 64-64 (the actor unchanged): the default's Hopper return still rose over its last
    # 200k steps on every seed, so learning speed limits it, and GAE's advantages are only as good as the critic.
    # The baselines' critics stay 64-64: a candidate kept would need them rerun with it. Hopper first
    # Result: Hopper 2911 ± 594 (3354, 3144, 2236; the default: 2353, 2582, 3412): ahead of the default on seeds 1-2,
    # behind on seed 3, below δ 0.06's 3089. Walker2d 4105 ± 430 (4276, 4424, 3615; the default: 5348, 3994, 4566),
    # HalfCheetah 6413 ± 463 (5943, 6429, 6868; the default: 7584, 7135, 6515): 1.04 of the bar against 1.12. Dropped
    "rat-critic256": ["rat_continuous_action.py", "--critic-hidden", "256"],
    # the 256-256 critic with δ 0.06, the best Hopper δ: the two changes that each raised Hopper's mean, together.
    # Hopper first
    # Result: Hopper seed 1 2991, below each change alone on that seed (3354, 3135). Stopped
    "rat-critic256-kl0.06": ["rat_continuous_action.py", "--critic-hidden", "256", "--target-kl", "0.06"],
    # the "full-batch natural step followed by clipped refinement": the default's natural step, then PPO's clipped
    # surrogate with the plain A over the critic's 10 epochs of 64-sample mini-batches, ratios against the batch's
    # policy (a slice of Ã is no natural gradient, RAT.md §3). The refinement pulls back samples the natural step moved
    # against their advantage and adds little where the step already moved them past the clip. Hopper first
    # Result: Hopper 2138 ± 1185 (2776, 2868, 770; the default: 2353, 2582, 3412); seed 3's mean over 20 episodes never
    # passed 1,131 (its log.txt), its last 20 episodes 251 steps long on average. The refinement pulled the policy
    # back: over the last 10% of the budget the whole move was a KL of 0.026-0.027 from the batch's policy against the
    # natural step's 0.030 (policy/kl, policy/npg_kl), with a fifth of the samples clipped, and σ fell to 0.066-0.078
    # (the default: 0.12-0.14). Dropped, not run on Walker2d or HalfCheetah
    "rat-npg-ppo": ["rat_continuous_action.py", "--update", "npg-ppo"],
    # a 128-128 critic, between the default's 64-64 and rat-critic256, which raised Hopper's final-policy evaluations
    # (3530 ± 82 against 3063 ± 625) and two of its three training seeds but slowed Walker2d and HalfCheetah. All
    # three tasks queued at once (Hopper first), the session's last candidate
    # Result: Hopper 2977 ± 825 (3571, 2034, 3325; the default: 2353, 2582, 3412), below δ 0.06's 3089; seed 2's last
    # 20 episodes ran 527 steps on average. Walker2d and HalfCheetah were cancelled once seeds 1-2 left the bar out of
    # reach (seed 3 would have needed 4,013). Dropped
    "rat-critic128": ["rat_continuous_action.py", "--critic-hidden", "128"],
    # --- queued after rat-critic128: the Hopper candidates that moved the policy further per sample did best (δ 0.06:
    # 3089 ± 289; rat-n4096: 3052 ± 310), and every Hopper seed of the default still gains late. Two ways to move
    # further per sample, Hopper first ---
    # two natural steps of δ 0.03, the second re-solved at the moved policy: the batch used twice, as PPO reuses it,
    # with each step's quadratic model fitted where the step starts. rat-2-steps-kl0.02 (seeds 1-2: 2557, 3109) was
    # ahead of the default (2353, 2582) on both seeds it ran; this aims at moving as far per batch as δ 0.06 in one
    # step
    # Result: Hopper seeds 1-2 3255 and 2688 (the default: 2353, 2582); seed 3 would have needed 3,676 for the mean to
    # reach the bar, above the mean of the full 1,000-step episodes of every default seed (3,296-3,530). Stopped during
    # seed 3. Over the last 10% of the budget the two steps moved the policy a KL of 0.068 per batch (δ 0.06: 0.046)
    # and σ ended at 0.24 (the default: 0.13)
    "rat-2-steps-kl0.03": ["rat_continuous_action.py", "--npg-steps", "2", "--target-kl", "0.03"],
    # γ 0.995 with δ 0.06: the two changes with the largest share of full 1,000-step Hopper episodes among the last 20
    # (γ 0.995 with GAE λ 0.97: 100% and 75% on seeds 1-2; δ 0.06: 85%, 70%, 55%; the default: 35%, 25%, 85%).
    # γ 0.995 trapped seed 3 standing still from the first 50k steps (twice, with GAE λ 0.97 and 0.95); whether
    # larger steps leave that trap is measured here
    # Result: seed 3 left the trap (2995, 80% of the last 20 episodes full), seed 1 2904 (85% full); the full episodes
    # returned 3,339 and 3,272 on average, below the default's 3,530 on seed 3. Seed 2 stood still (full 1,000-step
    # episodes returning about 1,050 from 67k to 141k steps) and was stopped there: the bar was out of reach (3,719
    # needed)
    "rat-gamma0.995-kl0.06": ["rat_continuous_action.py", "--gamma", "0.995", "--target-kl", "0.06"],
    # γ rising linearly from 0.99 to 0.995 over the run (--final-gamma): γ 0.995 from the start kept the most Hopper
    # episodes standing (100% and 75% of the last 20 on rat-gamma0.995's seeds 1-2) but trapped a seed standing still
    # within the first 70k steps in each of its three configurations, and no Hopper run at γ 0.99 ended so. Raising
    # the horizon as the policy improves, as OpenAI Five raised its discount horizon during training (Berner et al.
    # 2019), keeps γ 0.99 for the early phase where the trap formed. Hopper first
    # Result: Hopper 3319 ± 204 (3334, 3515, 3108; the default: 2353, 2582, 3412), 113 above the bar, the only
    # candidate above it, with 90%, 100% and 85% of the last 20 episodes full. Walker2d 4306 ± 89 (4393, 4215, 4311;
    # the default: 5348, 3994, 4566), 267 below the bar; HalfCheetah 6482 ± 927 (7493, 6278, 5674; the default: 7584,
    # 7135, 6515). 1.11 of the bar against the default's 1.12: not adopted, the first to reach the bar on Hopper.
    # On Hopper seeds 4-6 (benchmark/grids/hopper_seeds.py) it returned 2707, 1926, 2451, below the default's 2918,
    # 2256, 3164: six-seed means 2840 and 2781
    "rat-final-gamma0.995": ["rat_continuous_action.py", "--final-gamma", "0.995"],
    # δ moving linearly from 0.06 to 0.02 over the run (--final-target-kl), the same mean δ as the default's 0.04:
    # δ 0.06 learned Hopper fastest and ended highest at a constant γ (3089 ± 289) but cost HalfCheetah (6498) and
    # Walker2d (4547) against δ 0.04, and every default Hopper curve still swings by several hundred between
    # batches late in the run. Large steps while the policy is far from good, small ones while it is refined, as
    # --anneal-lr does for the critic; Hopper first
    # Result: Hopper seeds 1-2 2768 and 1310 (the default: 2353, 2582). Seed 2 fell from 1,912 per episode over
    # 100k-200k to 1,310-1,710 per 100k steps from 200k on (episodes of 330-510 steps on average);
    # seed 3 would have needed 5,540 for the mean to reach the bar. Stopped after two seeds
    "rat-kl0.06-to-0.02": ["rat_continuous_action.py", "--target-kl", "0.06", "--final-target-kl", "0.02"],
    # the reverse, δ rising linearly from 0.04 to 0.08: δ falling to 0.02 lost Hopper seed 2 and δ 0.02 throughout
    # ended at 2531, while every default Hopper seed still gains over the last 100k steps and δ 0.06 and 0.08
    # throughout (3089, 2995) ended above δ 0.04 (2782) there. Small steps early, where HalfCheetah did best at
    # δ 0.04, large ones late; Hopper first
    # Result: Hopper seeds 1-2 137 and 2144 (the default: 2353, 2582). Seed 1's episodes ran the full 1,000 steps (about
    # 3,390 each) from 988k to 995k; from then all but one fell after 67-70 steps (returning about 137), the last 20
    # among them, while its deterministic final policy returns 3383. Seed 2 returned 1,800-2,600 per 100k steps
    # from 200k on. Stopped after two seeds
    "rat-kl0.04-to-0.08": ["rat_continuous_action.py", "--final-target-kl", "0.08"],
    # γ rising from 0.99 to 0.993 instead of 0.995: the follow-up the six-seed grid left. 0.995 lifted Hopper's seeds
    # 1-3 (3319) and cost Walker2d 330 (4306); a smaller rise may keep part of the first and less of the second.
    # Hopper first
    # Result: Hopper seeds 1-2 3536 and 195 (the default: 2353, 2582). Seed 2 returned 3,300-3,620 per 8k steps
    # from 880k to 968k; from 976k its episodes fell ever sooner, the last 123 (from 992k) after 58 steps on
    # average, and its final policy evaluates at 376. Seed 3, run to finish the three seeds, returned 3455 (the
    # default: 3412): 2395 ± 1906 over seeds 1-3, the two that did not collapse 3536 and 3455
    "rat-final-gamma0.993": ["rat_continuous_action.py", "--final-gamma", "0.993"],
    # δ 0.06 with no state moved by a KL above 10δ (--max-kl-factor 10). Hopper runs that ended far below their
    # peak (rat-kl0.04-to-0.08 seed 1, rat-final-gamma0.993 seed 2) and some that recovered (rat-const-lr seed 2
    # at 800k, rat-kl0.05 seed 1 at 780k) went through spells where most episodes fell within 100 steps. δ bounds
    # the KL's mean over the batch's states; one step at δ 0.04 from rat-final-gamma0.993's seed-1 policy moved
    # its batch's most-moved state 27× the mean, where a vanilla-gradient step moved it 4× (benchmark/step_quality.py,
    # 8 batches: the natural step fits each sample's advantage, rarely visited states included). A bound per state
    # keeps a step from moving the rarely visited states the most; Hopper first
    # Result: Hopper 2837 ± 114 (2867, 2932, 2711; the default: 2353, 2582, 3412; δ 0.06 alone: 3135, 3352, 2779).
    # The bound held the mean KL to 0.015 over the last 10% of the budget (δ 0.06 alone: 0.046) at 3.6 backtracks per
    # step (δ 0.06 alone: 0.75; results/ablation/scalars.md); no seed collapsed, seeds 1 and 3 still gained over their
    # last 100k steps and seed 2 fell back (benchmark/windows.py), and 55-75% of the last 20 episodes ran full
    "rat-kl0.06-maxkl10": ["rat_continuous_action.py", "--target-kl", "0.06", "--max-kl-factor", "10"],
    # γ rising to 0.993 with rat-kl0.06-maxkl10's per-state cap (none of its seeds collapsed): 0.6, here 15δ at
    # δ 0.04. γ 0.993 alone returned 3536 and 3455 on Hopper seeds 1 and 3 and lost seed 2 to a collapse in its
    # last 25k steps; the cap binds only on steps that move some state more than 15× the mean. Hopper first
    # Result: Hopper 3561 ± 220 (3736, 3632, 3314; the default: 2353, 2582, 3412), above the bar; Walker2d 3885 ± 669
    # (4455, 3149, 4053; the default: 5348, 3994, 4566), below it; HalfCheetah 6676 ± 871 (7679, 6106, 6243; the
    # default: 7584, 7135, 6515). 1.11 of the bar over the three tasks against the default's 1.12: not adopted. The cap
    # bound the more, the longer the run: over the last 10% of the budget the mean KL per step was 0.017-0.020 on the
    # three tasks (0.029-0.031 over the first 10%; the default 0.031-0.032 throughout) at 2.0-2.4 backtracks per step
    # (the default 0.38-0.76; results/ablation/scalars.md). Hopper seeds 4-6 are in benchmark/grids/hopper_seeds.py
    "rat-final-gamma0.993-maxkl15": ["rat_continuous_action.py", "--final-gamma", "0.993", "--max-kl-factor", "15"],
    # the per-state cap of rat-final-gamma0.993-maxkl15 at a constant γ: that candidate lifted Hopper above the bar on
    # seeds 1-3 (3736, 3632, 3314) and fell below the default on Walker2d (4455, 3149, 4053 against 5348, 3994, 4566),
    # as γ rising to 0.995 did (4306). Which of its two changes lifts Hopper and which costs Walker2d is measured
    # here, Hopper and Walker2d seed by seed
    # Result: Hopper 3048 ± 217 (2897, 2949, 3296), Walker2d 3918 ± 1231 (3555, 5290, 2909): not adopted
    "rat-maxkl15": ["rat_continuous_action.py", "--max-kl-factor", "15"],
    # rat-final-gamma0.993-maxkl15 with a looser cap, 25δ: its cap of 15δ bound the more, the longer the run (mean KL
    # per step 0.017-0.020 over the last 10% of the budget, the default's 0.031-0.032), and it fell below the default
    # on Walker2d and HalfCheetah while its Hopper lead held on seeds 4-5 (3014, 3211; the default 2918, 2256). One step
    # at δ 0.04 moved its most-moved state 27× the mean (results/step_quality.md), so 25δ still binds on such steps
    # and less often on the rest. Walker2d first, the task the tighter cap lost
    # Result: Hopper 3130 ± 356 (3096, 2793, 3502), Walker2d 4470 ± 453 (4931, 4452, 4026), HalfCheetah 5754 ± 522
    # (6244, 5205, 5813): 1.05 of the bar, not adopted
    "rat-final-gamma0.993-maxkl25": ["rat_continuous_action.py", "--final-gamma", "0.993", "--max-kl-factor", "25"],
    # γ rising to 0.995 with a larger step. rat-final-gamma0.995 lifted Hopper above the bar (3319) and cost Walker2d
    # (4306 against the default's 4636); its Walker2d runs walked slower, not shorter (best episodes 4386-4670 over the last
    # 200k steps against the default's 4977-6939, mean lengths 871-926 against 841-888; benchmark/windows.py), so the
    # loss looks like a slower gait, which more KL per step may buy back: δ 0.06 alone kept Walker2d (4547) and lifted
    # Hopper (3089). Hopper and Walker2d first, seed by seed; δ 0.08 beside it tells whether more step keeps paying
    # Result: Hopper 3211 ± 254 (3083, 3503, 3046), 5 above the bar; Walker2d 4138 ± 359 (4437, 3740, 4237), below it and
    # below γ's rise alone (4306): the larger step did not buy the gait back. HalfCheetah run since it holds Hopper's bar
    "rat-kl0.06-final-gamma0.995": ["rat_continuous_action.py", "--target-kl", "0.06", "--final-gamma", "0.995"],
    # Stopped after Walker2d seed 1: 3501 (δ 0.06 with the same γ 4437, γ's rise alone 4393, the default 5348), its
    # slot given to Walker2d seeds 4-6 of the default and of rat-final-gamma0.993-maxkl15 (benchmark/grids/walker_seeds.py)
    "rat-kl0.08-final-gamma0.995": ["rat_continuous_action.py", "--target-kl", "0.08", "--final-gamma", "0.995"],
}
ENVS = ["Hopper-v5", "Walker2d-v5", "HalfCheetah-v5"]
SEEDS = [1, 2, 3]
TOTAL_TIMESTEPS = 1_000_000
COMMON_FLAGS = ["--save-model", "--checkpoint-every", "10"]

# RAT.md §6: 1.2 × the better of SB3 PPO and sb3-contrib TRPO at 1M steps (mean of the last 20 episodes)
BAR = {"Hopper-v5": 3206, "HalfCheetah-v5": 4832, "Walker2d-v5": 4573}
