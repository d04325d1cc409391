"""``sensorcast-operator``: run the kopf operator (liveness endpoint, standalone), or render a pipeline's
children offline (``render FILE``) to see what it would create."""

from __future__ import annotations

import argparse
import sys

import yaml


def cmd_run(args: argparse.Namespace) -> int:
    import kopf

    from . import handlers  # noqa: F401 - registers the handlers

    kopf.configure(verbose=args.verbose, debug=args.debug)
    kopf.run(standalone=True, clusterwide=not args.namespace, namespaces=args.namespace or (),
             liveness_endpoint=args.liveness or None)
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    from . import manifests, upgrade
    from .schema_defaults import defaulted_spec

    docs = []
    with open(args.file) as fh:
        for fp in yaml.safe_load_all(fh):
            if not fp or fp.get("kind") != "ForecastPipeline":
                continue
            p = manifests.Pipeline(fp["metadata"]["name"], fp["metadata"].get("namespace", args.namespace),
                                   defaulted_spec(fp["spec"]))
            docs += manifests.kafka_topics(p) + [manifests.config_map(p)]
            docs.append(manifests.spark_application(p, 0, upgrade.encode(upgrade.state_fields(p))))
            job = manifests.replay_job(p)
            if job:
                docs.append(job)
    yaml.safe_dump_all(docs, sys.stdout, sort_keys=False)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="sensorcast-operator", description=__doc__)
    sub = ap.add_subparsers(dest="cmd")
    run = sub.add_parser("run", help="run the operator (default)")
    run.add_argument("-n", "--namespace", action="append", help="watch this namespace (repeatable; default all)")
    run.add_argument("--liveness", default="http://0.0.0.0:8080/healthz",
                     help="liveness endpoint URL (empty: none); default %(default)s")
    run.add_argument("--verbose", action="store_true")
    run.add_argument("--debug", action="store_true")
    run.set_defaults(fn=cmd_run)
    render = sub.add_parser("render", help="print the child manifests of the ForecastPipelines in FILE")
    render.add_argument("file")
    render.add_argument("--namespace", default="default")
    render.set_defaults(fn=cmd_render)
    args = ap.parse_args(argv)
    if args.cmd is None:
        args = ap.parse_args(["run", *(argv if argv is not None else sys.argv[1:])])
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
