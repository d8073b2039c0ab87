"""Command line ``python -m course_pkg.rl {train,evaluate}`` (see :mod:`course_pkg.rl.train`)."""

from __future__ import annotations

import argparse
import json
import sys

import torch

from course_pkg.rl.train import CONFIGS, load_model, train


def _evaluate(args: argparse.Namespace) -> dict:
    from course_pkg.rl.evaluation import bandit_comparison, navigation_adaptation
    from course_pkg.rl.maml import make_policy
    from course_pkg.rl.train import config_for

    kw = {"scale": args.scale, "device": args.device, "train_if_missing": False}
    nav = {
        "MAML (2nd order)": load_model("maml-nav", **kw)[0],
        "MAML (1st order)": load_model("maml-nav-fo", **kw)[0],
        "MAML + LR term": load_model("maml-nav-lr", **kw)[0],
        "multi-task pretrained": load_model("pretrained-nav", **kw)[0],
        "random init": make_policy(config_for("maml-nav", args.scale)),
    }
    nav["random init"].to(nav["MAML (2nd order)"].log_std.device)
    inner_lr = config_for("maml-nav", args.scale)["inner_lr"]
    res = navigation_adaptation(nav, inner_lr=inner_lr)
    report: dict = {"navigation": {}, "bandits": {}}
    print("Return on 100 held-out goals (mean ± 95 % CI) after j adaptation steps")
    for name, r in res.items():
        cells = "  ".join(f"{m:7.1f} ± {c:4.1f}" for m, c in zip(r["mean"], r["ci"]))
        print(f"  {name:24s} {cells}")
        report["navigation"][name] = {"mean": r["mean"], "ci": r["ci"]}
    rl2 = load_model("rl2-bandit", **kw)[0]
    band = bandit_comparison(rl2)
    print("5-armed Bernoulli bandits, 100 pulls, 1000 held-out tasks: total reward")
    for name, r in band.items():
        print(f"  {name:20s} {r['mean']:6.2f} ± {r['ci']:4.2f}   regret {r['regret']:6.2f}")
        report["bandits"][name] = {"mean": r["mean"], "ci": r["ci"], "regret": r["regret"]}
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_pkg.rl", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_train = sub.add_parser("train", help="train experiment(s) and overwrite their checkpoints")
    p_train.add_argument("names", nargs="+", choices=[*CONFIGS, "all"])
    p_eval = sub.add_parser("evaluate", help="print the chapter's tables from the checkpoints")
    p_eval.add_argument("--json", help="also write the numbers to this JSON file")
    for p in (p_train, p_eval):
        p.add_argument("--scale", choices=["cpu", "paper"], default=None,
                       help="settings (default: $COURSE_SCALE or cpu)")
        p.add_argument("--device", default=None, help="cpu, cuda, mps (default: get_device())")
        p.add_argument("--threads", type=int, default=1,
                       help="torch CPU threads (default 1: small batches, reproducible timing)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.command == "train":
        names = list(CONFIGS) if "all" in args.names else args.names
        for name in names:
            metrics = train(name, args.scale, args.device)
            print(f"{name}: trained in {metrics['train_seconds']} s")
        return 0
    report = _evaluate(args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
