"""TOML presets of the noise-aware tasks (kinds ``ssa_tracking`` and ``ssa_robust``; see
:mod:`gfn_crn.tasks.stochastic`). No imports here, so that :mod:`gfn_crn.tasks.presets` can merge
them without an import cycle."""

_RPA_BODY = '''
[template]
example = "antithetic"
[scenarios]
inputs = { u1 = [0.5, 1.0, 1.5], u2 = [0.5, 1.0, 1.5] }
init = 0.01
[time]
t_f = 100
n_t = 1000
'''

SSA_PRESETS: dict[str, str] = {
    "ssa_tracking": '''
kind = "ssa_tracking"
name = "ssa_tracking"
description = "RPA at low copy numbers: the MEAN of 64 exact SSA trajectories of X1 follows u1 (volume 20, 9 scenarios)"
''' + _RPA_BODY + '''
[task]
target = "u1"
weights = "transient"
norm = 1
[ssa]
trajectories = 64
volume = 20
seed = 0
max_events = 100000
cap = 1000
method = "exact"
[reward]
beta = 10
loss_cap = 2
good_threshold = 0.05
''',
    "ssa_robust": '''
kind = "ssa_robust"
name = "ssa_robust"
description = "noise-robust RPA: tracking loss of the SSA mean plus 0.1 x the weighted mean CV of X1 (64 trajectories, volume 20)"
''' + _RPA_BODY + '''
[task]
target = "u1"
weights = "transient"
norm = 1
cv_weight = 0.1
[ssa]
trajectories = 64
volume = 20
seed = 0
max_events = 100000
cap = 1000
method = "exact"
[reward]
beta = 10
loss_cap = 2
good_threshold = 0.08
''',
}
