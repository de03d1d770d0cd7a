"""Named task presets, stored as TOML text (the same format as task files; see
:mod:`gfn_crn.tasks.config`). ``gfn-crn tasks`` lists them; ``load_task(name)`` builds one.

Each preset's template is small (3-5 species) so that the mass-action library stays at
90-420 reactions. Hand designs reach each preset's good threshold or come near it (see
``tests/test_tasks_presets.py``).
"""

from __future__ import annotations

_SENSORS3 = """\
species: X1 X2 X3 Y
outputs: Y
fixed: 0 -> X1 ; k=1 * u1
fixed: 0 -> X2 ; k=1 * u2
fixed: 0 -> X3 ; k=1 * u3
fixed: X1 -> 0 ; k=1
fixed: X2 -> 0 ; k=1
fixed: X3 -> 0 ; k=1
"""

_SENSORS4 = """\
species: X1 X2 X3 X4 Y
outputs: Y
fixed: 0 -> X1 ; k=1 * u1
fixed: 0 -> X2 ; k=1 * u2
fixed: 0 -> X3 ; k=1 * u3
fixed: 0 -> X4 ; k=1 * u4
fixed: X1 -> 0 ; k=1
fixed: X2 -> 0 ; k=1
fixed: X3 -> 0 ; k=1
fixed: X4 -> 0 ; k=1
"""

PRESETS: dict[str, str] = {
    "rpa": '''
kind = "tracking"
name = "rpa"
description = "robust perfect adaptation: X1 follows u1 whatever the disturbance u2 (antithetic template, 9 scenarios)"
[template]
example = "antithetic"
[scenarios]
inputs = { u1 = [0.5, 1.0, 1.5], u2 = [0.5, 1.0, 1.5] }
init = 0.01
[time]
t_f = 100
n_t = 1000
[task]
target = "u1"
weights = "transient"
norm = 1
[reward]
beta = 30
loss_cap = 1
good_threshold = 0.01
''',
    "logic-and3": f'''
kind = "logic"
name = "logic-and3"
description = "3-input AND gate: Y high iff u1, u2 and u3 are on (8 truth-table rows, sensors X1..X3)"
[template]
text = """
{_SENSORS3}"""
[scenarios]
init = 0.01
[time]
t_f = 100
n_t = 1000
[task]
expression = "u1 & u2 & u3"
weights = "transient"
''',
    "logic-4": f'''
kind = "logic"
name = "logic-4"
description = "4-input gate (u1 & u2) | (u2 & u3) | (u3 & u4) (16 truth-table rows, sensors X1..X4)"
[template]
text = """
{_SENSORS4}"""
[scenarios]
init = 0.01
[time]
t_f = 100
n_t = 1000
[task]
expression = "(u1 & u2) | (u2 & u3) | (u3 & u4)"
weights = "transient"
''',
    "oscillator": '''
kind = "oscillator"
name = "oscillator"
description = "oscillator whose frequency follows the input: f = 0.1*u1 for u1 in {0.5, 1} (degradation at rate u1)"
[template]
text = """
species: X1 X2 X3
outputs: X1
fixed: X1 -> 0 ; k=1 * u1
fixed: X2 -> 0 ; k=1 * u1
fixed: X3 -> 0 ; k=1 * u1
"""
[scenarios]
inputs = { u1 = [0.5, 1.0] }
init = { X1 = 1.0 }
[time]
t_f = 100
n_t = 1000
[task]
frequency = "0.1 * u1"
t0 = 20
''',
    "dose-response": '''
kind = "dose_response"
name = "dose-response"
description = "steady-state dose response Y = u1^2/(1+u1^2) (Hill, K=1, n=2) over 9 doses 0.1..10"
[template]
text = """
species: X1 X2 Y
outputs: Y
fixed: 0 -> X1 ; k=1 * u1
fixed: X1 -> 0 ; k=1
"""
[scenarios]
init = 0.01
[time]
t_f = 100
n_t = 1000
[task]
input = "u1"
range = { low = 0.1, high = 10.0, n = 9, log = true }
hill = { vmax = 1.0, K = 1.0, n = 2 }
weights = "steady_state"
''',
    "habituation": '''
kind = "habituation"
name = "habituation"
description = "habituation: X1's peaks decrease over 5 pulses of u1 (width 5, gap 15), 2 pulse heights"
[template]
text = """
species: X1 X2 X3
outputs: X1
fixed: 0 -> X1 ; k=1 * u1
fixed: X1 -> 0 ; k=1
"""
[scenarios]
init = 0.01
[time]
t_f = 120
n_t = 1000
[task]
input = "u1"
n_pulses = 5
start = 10
width = 5
gap = 15
high = [1.0, 2.0]
peak_floor = 0.05
''',
    "classifier": '''
kind = "classification"
name = "classifier"
description = "classify the initial amount of X3: below 1 -> Y1 high, above 1 -> Y2 high (6 examples)"
[template]
text = """
species: X3 Y1 Y2
outputs: Y1 Y2
"""
[scenarios]
init = 0.01
[time]
t_f = 100
n_t = 1000
[task]
weights = "steady_state"
examples = [
  { init = { X3 = 0.1 }, class = "Y1" },
  { init = { X3 = 0.3 }, class = "Y1" },
  { init = { X3 = 0.6 }, class = "Y1" },
  { init = { X3 = 1.6 }, class = "Y2" },
  { init = { X3 = 3.0 }, class = "Y2" },
  { init = { X3 = 10.0 }, class = "Y2" },
]
''',
    "trace": '''
kind = "trace"
name = "trace"
description = "some species passes through an 11-point pulse-shaped trace on 0..100 from a stock X1(0) = 2"
[template]
text = """
species: X1 X2 X3
"""
[scenarios]
init = { X1 = 2.0 }
[task]
times = [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
values = [0.01, 0.89, 0.99, 0.85, 0.65, 0.47, 0.33, 0.23, 0.16, 0.11, 0.07]
n_t = 201
''',
}


from .stochastic_presets import SSA_PRESETS  # noqa: E402

PRESETS.update(SSA_PRESETS)


def list_presets() -> list[tuple[str, str]]:
    """(name, one-line description) for every preset."""
    from .config import tomllib

    out = []
    for name, text in PRESETS.items():
        out.append((name, tomllib.loads(text).get("description", "")))
    return out
