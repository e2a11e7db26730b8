"""The comparison's test functions, for the Python peers (standard library only).

The same functions as src/functions.rs, term for term and in the same order of operations,
with the same domains and known optima; parameters are x0, x1, ... in order, all minimised.
MULTI_OBJECTIVE holds the multi-objective ones (ZDT1, ZDT2), whose value is a list.

    python3 functions.py                 checks every function at its known optimum (and
                                         the multi-objective ones on their Pareto fronts)
    (compare --points; compare --points --multi-objective) | python3 functions.py --verify
                                         also checks that Python's values equal Rust's at the
                                         points the Rust side printed (run.sh does both)
"""

import json
import math
import sys

PI = math.pi
E = math.e

# The values x4 of the mixed space may take (a categorical).
MIXED_CHOICES = [-2.0, -0.5, 0.5, 2.0]
# The root of 4x^3 - 32x + 5 = 0 in [-5, 5] where Styblinski-Tang is least.
STYBLINSKI_TANG_X = -2.903534027771177


def branin(x):
    """Branin (2-D) on x0 in [-5, 10], x1 in [0, 15].
    Minimum 0.397887357729738 at (-pi, 12.275), (pi, 2.275) and (3 pi, 2.475)."""
    b = 5.1 / (4.0 * PI * PI)
    c = 5.0 / PI
    t = 1.0 / (8.0 * PI)
    u = x[1] - b * x[0] * x[0] + c * x[0] - 6.0
    return u * u + 10.0 * (1.0 - t) * math.cos(x[0]) + 10.0


HARTMANN_ALPHA = [1.0, 1.2, 3.0, 3.2]
HARTMANN_A = [
    [10.0, 3.0, 17.0, 3.5, 1.7, 8.0],
    [0.05, 10.0, 17.0, 0.1, 8.0, 14.0],
    [3.0, 3.5, 1.7, 10.0, 17.0, 8.0],
    [17.0, 8.0, 0.05, 10.0, 0.1, 14.0],
]
HARTMANN_P = [
    [0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886],
    [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
    [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650],
    [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381],
]


def hartmann6(x):
    """Hartmann (6-D) on [0, 1]^6. Minimum -3.322368011415515 at (0.20168951, 0.15001069,
    0.47687397, 0.27533243, 0.31165162, 0.65730053)."""
    total = 0.0
    for i in range(4):
        inner = 0.0
        for j in range(6):
            d = x[j] - HARTMANN_P[i][j]
            inner += HARTMANN_A[i][j] * d * d
        total += HARTMANN_ALPHA[i] * math.exp(-inner)
    return -total


def rosenbrock(x):
    """Rosenbrock: sum 100 (x[i+1] - x[i]^2)^2 + (1 - x[i])^2, on [-5, 10]^5 here.
    Minimum 0 at (1, ..., 1). In the mixed space (x3 an int in [-5, 10], x4 one of
    MIXED_CHOICES) the minimum is 25, at (1, 1, 1, 1, 0.5)."""
    total = 0.0
    for i in range(len(x) - 1):
        a = x[i + 1] - x[i] * x[i]
        b = 1.0 - x[i]
        total += 100.0 * a * a + b * b
    return total


def ackley(x):
    """Ackley, on [-32.768, 32.768]^5 here. Minimum 0 at the origin."""
    n = float(len(x))
    squares = 0.0
    cosines = 0.0
    for v in x:
        squares += v * v
        cosines += math.cos(2.0 * PI * v)
    return -20.0 * math.exp(-0.2 * math.sqrt(squares / n)) - math.exp(cosines / n) + 20.0 + E


def levy(x):
    """Levy, on [-10, 10]^6 here. Minimum 0 at (1, ..., 1)."""
    w = [1.0 + (v - 1.0) / 4.0 for v in x]
    d = len(w)
    first = math.sin(PI * w[0])
    total = first * first
    for wi in w[: d - 1]:
        s = math.sin(PI * wi + 1.0)
        total += (wi - 1.0) * (wi - 1.0) * (1.0 + 10.0 * s * s)
    last = w[d - 1]
    s = math.sin(2.0 * PI * last)
    return total + (last - 1.0) * (last - 1.0) * (1.0 + s * s)


def styblinski_tang(x):
    """Styblinski-Tang, on [-5, 5]^4 here. Minimum -156.66466281508565 (4-D) at
    x_i = -2.903534027771177."""
    total = 0.0
    for v in x:
        v2 = v * v
        total += v2 * v2 - 16.0 * v2 + 5.0 * v
    return 0.5 * total


# Variables of the ZDT functions (the standard 30).
ZDT_VARIABLES = 30


def zdt_g(x):
    """ZDT's g = 1 + 9 (x1 + ... + x[n-1]) / (n - 1): 1 exactly on the Pareto set
    (x1 = ... = x[n-1] = 0), at most 10 on [0, 1]^n. Summed in order, as Rust does."""
    total = 0.0
    for v in x[1:]:
        total += v
    return 1.0 + 9.0 * total / float(len(x) - 1)


def zdt1(x):
    """ZDT1 (Zitzler, Deb and Thiele 2000) on [0, 1]^n: f1 = x0, f2 = g (1 - sqrt(f1 / g)).
    Convex Pareto front f2 = 1 - sqrt(f1), reached where g = 1."""
    f1 = x[0]
    g = zdt_g(x)
    return [f1, g * (1.0 - math.sqrt(f1 / g))]


def zdt2(x):
    """ZDT2 (Zitzler, Deb and Thiele 2000) on [0, 1]^n: f1 = x0, f2 = g (1 - (f1 / g)^2).
    Concave Pareto front f2 = 1 - f1^2, reached where g = 1."""
    f1 = x[0]
    g = zdt_g(x)
    r = f1 / g
    return [f1, g * (1.0 - r * r)]


def real(lo, hi):
    return ("real", lo, hi)


def integer(lo, hi):
    return ("int", lo, hi)


def categorical(values):
    return ("categorical", list(values))


# name -> bounds (one per parameter), known optimum, minimisers, function; in table order.
FUNCTIONS = {
    "branin": dict(
        bounds=[real(-5.0, 10.0), real(0.0, 15.0)],
        optimum=0.397887357729738,
        argmin=[[-PI, 12.275], [PI, 2.275], [3.0 * PI, 2.475]],
        f=branin,
    ),
    "hartmann6": dict(
        bounds=[real(0.0, 1.0)] * 6,
        optimum=-3.322368011415515,
        argmin=[
            [
                0.20168950909365746,
                0.15001069354111374,
                0.4768739729250998,
                0.2753324275220782,
                0.3116516172395686,
                0.6573005345536702,
            ]
        ],
        f=hartmann6,
    ),
    "rosenbrock5": dict(
        bounds=[real(-5.0, 10.0)] * 5, optimum=0.0, argmin=[[1.0] * 5], f=rosenbrock
    ),
    "ackley5": dict(
        bounds=[real(-32.768, 32.768)] * 5, optimum=0.0, argmin=[[0.0] * 5], f=ackley
    ),
    "levy6": dict(bounds=[real(-10.0, 10.0)] * 6, optimum=0.0, argmin=[[1.0] * 6], f=levy),
    "styblinski-tang4": dict(
        bounds=[real(-5.0, 5.0)] * 4,
        optimum=-156.66466281508565,
        argmin=[[STYBLINSKI_TANG_X] * 4],
        f=styblinski_tang,
    ),
    "rosenbrock5-mixed": dict(
        bounds=[
            real(-5.0, 10.0),
            real(-5.0, 10.0),
            real(-5.0, 10.0),
            integer(-5, 10),
            categorical(MIXED_CHOICES),
        ],
        optimum=25.0,
        argmin=[[1.0, 1.0, 1.0, 1.0, 0.5]],
        f=rosenbrock,
    ),
}


# name -> bounds, number of objectives, function (a list of values, all minimised) and its
# Pareto front (f2 as a function of f1 in [0, 1]); in table order.
MULTI_OBJECTIVE = {
    "zdt1": dict(
        bounds=[real(0.0, 1.0)] * ZDT_VARIABLES,
        objectives=2,
        f=zdt1,
        front=lambda f1: 1.0 - math.sqrt(f1),
    ),
    "zdt2": dict(
        bounds=[real(0.0, 1.0)] * ZDT_VARIABLES,
        objectives=2,
        f=zdt2,
        front=lambda f1: 1.0 - f1 * f1,
    ),
}


def pareto_point(spec, f1):
    """The Pareto-optimal point whose first objective is f1: x0 = f1, the rest 0."""
    return [f1] + [0.0] * (len(spec["bounds"]) - 1)


def close(a, b, tol=1e-9):
    return abs(a - b) <= tol * (1.0 + abs(b))


def self_test():
    """Every function reaches its known optimum at each minimiser, and no small step along
    a real coordinate goes lower (the same checks as the Rust unit tests)."""
    for name, spec in FUNCTIONS.items():
        f = spec["f"]
        for x in spec["argmin"]:
            v = f(x)
            assert close(v, spec["optimum"]), f"{name} at {x}: {v} != {spec['optimum']}"
            for j, b in enumerate(spec["bounds"]):
                if b[0] != "real":
                    continue
                for h in (-1e-3, 1e-3):
                    y = list(x)
                    y[j] += h
                    assert f(y) >= spec["optimum"] - 1e-12, f"{name} at {y}"
    last = min(
        100.0 * (x4 - x3 * x3) ** 2 + (1.0 - x3) ** 2
        for x3 in range(-5, 11)
        for x4 in MIXED_CHOICES
    )
    assert last == 25.0, last
    for name, spec in MULTI_OBJECTIVE.items():
        f, front = spec["f"], spec["front"]
        for f1 in (0.0, 0.25, 0.5, 0.81, 1.0):
            v = f(pareto_point(spec, f1))
            assert len(v) == spec["objectives"] and v[0] == f1, f"{name} at f1 = {f1}: {v}"
            assert close(v[1], front(f1)), f"{name} at f1 = {f1}: {v}, front {front(f1)}"
        ones = f([1.0] * ZDT_VARIABLES)
        assert ones[0] == 1.0 and 0.0 <= ones[1] <= 10.0, f"{name} at (1, ..., 1): {ones}"


def verify(lines):
    """Checks Python's value at each point `compare --points` (and `compare --points
    --multi-objective`) printed against Rust's. Returns the number of points checked."""
    n = 0
    seen = set()
    for line in lines:
        if not line.strip():
            continue
        rec = json.loads(line)
        if rec.get("kind") == "mo-point":
            name = rec["function"]
            if name not in MULTI_OBJECTIVE:
                raise AssertionError(f"Rust has a function {name!r} that functions.py lacks")
            seen.add(name)
            ours = MULTI_OBJECTIVE[name]["f"](rec["x"])
            theirs = rec["values"]
            if len(ours) != len(theirs) or not all(
                close(a, b, 1e-12) for a, b in zip(ours, theirs)
            ):
                raise AssertionError(f"{name} at {rec['x']}: Python {ours!r}, Rust {theirs!r}")
            n += 1
            continue
        if rec.get("kind") != "point":
            continue
        name = rec["function"]
        if name not in FUNCTIONS:
            raise AssertionError(f"Rust has a function {name!r} that functions.py lacks")
        seen.add(name)
        ours = FUNCTIONS[name]["f"](rec["x"])
        theirs = rec["value"]
        if not close(ours, theirs, 1e-12):
            raise AssertionError(f"{name} at {rec['x']}: Python {ours!r}, Rust {theirs!r}")
        n += 1
    missing = (set(FUNCTIONS) | set(MULTI_OBJECTIVE)) - seen
    if missing:
        raise AssertionError(f"Rust printed no points for {sorted(missing)}")
    return n


if __name__ == "__main__":
    self_test()
    if "--verify" in sys.argv[1:]:
        n = verify(sys.stdin)
        total = len(FUNCTIONS) + len(MULTI_OBJECTIVE)
        print(f"functions.py: Python and Rust agree at {n} points of {total} functions")
    else:
        print(f"functions.py: {len(FUNCTIONS)} functions reach their known optima, "
              f"{len(MULTI_OBJECTIVE)} multi-objective ones their Pareto fronts")
