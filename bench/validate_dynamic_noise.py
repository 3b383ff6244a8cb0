"""The late slope's noise floor on the dynamic FET validation patients (docs/validation.md, issue 20).

For the patients of ``tests/test_dynamic_simulated.py``'s validation (seed 11, an 18 mm lesion, 200 MBq,
odd patients the early-peak curve, even ones the steady rise), the 20-40 min frames are acquired again
``--draws`` times with independent Poisson noise (:func:`gliopet.simulate.dynamic_noise.slope_noise_draws`);
prints each patient's ideal and scanner-resolution slope, and the mean and SD of the slope error over the
oracle VOI (fixed, from the noise-free image) and over the isocontour VOI drawn on each noisy image.

    .venv/bin/python -m bench.validate_dynamic_noise [--patients 8] [--draws 12]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

from gliopet.simulate.dynamic_noise import slope_noise_draws
from gliopet.simulate.specs import random_patient_spec

SEED = 11


def _spec(index: int):
    """The validation's patient ``index`` (tests/test_dynamic_simulated.py ``_spec``)."""
    return dataclasses.replace(random_patient_spec(SEED, index, tracer="fet"), lesion_radius_mm=18.0,
                               necrosis=False, injected_bq=200e6)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=8)
    parser.add_argument("--draws", type=int, default=12)
    args = parser.parse_args()
    print("| patient | curve | ideal slope (SUV/h) | scanner-resolution slope | oracle VOI (mL) | oracle: mean error "
          "(SD) | oracle draws within 10 % | isocontour: mean error (SD) | isocontour draws within 10 % |")
    print("|---|---|---|---|---|---|---|---|---|")
    rows = []
    for index in range(1, args.patients + 1):
        began = time.monotonic()
        pattern = "decreasing" if index % 2 else "increasing"
        result = slope_noise_draws(_spec(index), seed=SEED, pattern=pattern, draws=args.draws).summary()
        rows.append({"patient": f"SIM{index:03d}", **result, "seconds": round(time.monotonic() - began, 1)})
        o, i = result["oracle"], result["isocontour"]
        print(f"| SIM{index:03d} | {pattern} | {result['ideal']:+.3f} | {result['scanner']:+.3f} "
              f"({result['scanner_error']:+.1%}) | {result['oracle_voi_ml']:.2f} | {o['mean_error']:+.1%} "
              f"({o['sd']:.1%}) | {o['within_10pc_of_ideal']:.0%} | {i['mean_error']:+.1%} ({i['sd']:.1%}) | "
              f"{i['within_10pc_of_ideal']:.0%} |", flush=True)
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
