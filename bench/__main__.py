"""`python -m bench {all,scifact,indexing,search,generation,coldstart,memory}`.

Each part saves its section of bench/results/latest.json and refreshes the table in
docs/benchmarks.md; `all` runs every part in turn (about 10-20 minutes on 2 cores once the SciFact
index is cached; the first SciFact index adds its own time).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from bench.common import LATEST, load_results, log, offline_env, save_section

PARTS = ("scifact", "indexing", "search", "generation", "coldstart", "memory", "watching",
         "routing", "answers", "serve", "pdfqa")


def _run_part(name: str, args) -> dict:
    if name == "scifact":
        if not args.scifact:
            return {"skipped": "no --scifact PATH given"}
        from bench.scifact import bench_scifact

        splits = ("test", "train") if args.train else ("test",)
        return bench_scifact(args.scifact, limit=args.limit, cli_check=args.cli_check,
                             splits=splits)
    if name == "indexing":
        from bench.indexing import bench_indexing

        return bench_indexing(args.scifact, rounds=args.rounds, profile=args.profile,
                              corpus=args.corpus, variants=not args.no_variants,
                              do_sweep=args.sweep, speed=not args.no_speed,
                              scifact_variants=tuple(v for v in args.scifact_variants.split(",")
                                                     if v) or None)
    if name == "search":
        from bench.search import bench_search

        sizes = tuple(int(s) for s in args.sizes.split(","))
        return bench_search(sizes, n_queries=args.queries)
    if name == "generation":
        from bench.generation import bench_generation

        return bench_generation(args.scifact, rounds=max(2 * args.rounds, 4))
    if name == "coldstart":
        from bench.coldstart import bench_coldstart

        return bench_coldstart()
    if name == "memory":
        from bench.memory import bench_memory

        return bench_memory(args.scifact)
    if name == "watching":
        from bench.watching import bench_watching

        return bench_watching()
    if name == "routing":
        from bench.routing import bench_routing

        return bench_routing()
    if name == "answers":
        from bench.answers import bench_answers

        configs = tuple(c for c in args.configs.split(",") if c)
        data = bench_answers(args.corpus, args.questions_file, configs=configs,
                             library_dir=args.library, unanswerable=args.unanswerable)
        if "configs" in data and not args.no_doc:
            from bench.answers import update_doc

            update_doc({**data, "measured_at": time.strftime("%Y-%m-%d %H:%M")})
        return data
    if name == "serve":
        from bench.serve import bench_serve

        return bench_serve(args.scifact)
    if name == "team":
        from bench.team import bench_team

        return bench_team(args.scifact, args.team_chunks, n_queries=args.queries,
                          seed_library=args.seed_library, modes=args.modes)
    if name == "scale":
        from bench.scale import bench_scale

        return bench_scale(args.chunks, n_queries=args.queries)
    if name == "pdfqa":
        if getattr(args, "more_corpus", None):  # issue 29: dev, tune, test and SciFact at once
            from bench.generalise import bench_generalise

            return bench_generalise(args.corpus, args.more_corpus, args.scifact,
                                    doc=not args.no_doc)
        from bench.pdfqa import bench_pdfqa

        return bench_pdfqa(getattr(args, "corpus", None), getattr(args, "questions_file", None),
                           fresh=getattr(args, "fresh", False), doc=not args.no_doc)
    raise ValueError(name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("part", choices=("all", *PARTS, "_memchild", "report",
                                            "scale", "_scalechild", "team", "_teamchild"))
    parser.add_argument("task", nargs="?", help=argparse.SUPPRESS)
    parser.add_argument("--scifact", default=None, help="BEIR SciFact folder (corpus.jsonl ...)")
    parser.add_argument("--limit", type=int, default=None, help="SciFact: first N documents only")
    parser.add_argument("--cli-check", type=int, default=300,
                        help="SciFact: re-run N test claims through `hearth search --queries`")
    parser.add_argument("--train", action="store_true",
                        help="SciFact: also score the train claims (the tuning set)")
    parser.add_argument("--rounds", type=int, default=2, help="A/B rounds for speed ratios")
    parser.add_argument("--sizes", default="10000,100000", help="search: library sizes in chunks")
    parser.add_argument("--queries", type=int, default=100, help="search: timed queries per size")
    parser.add_argument("--profile", action="store_true", help="indexing: cProfile one run")
    parser.add_argument("--no-variants", action="store_true",
                        help="indexing: skip PyTorch / ONNX fp32 / mixed / int8 side by side")
    parser.add_argument("--no-speed", action="store_true",
                        help="indexing: only the per-variant first index and quality")
    parser.add_argument("--scifact-variants", default="",
                        help="indexing: score SciFact for these variants only (comma-separated; "
                             "default all four: a PyTorch SciFact index takes ~20 min)")
    parser.add_argument("--sweep", action="store_true",
                        help="indexing: also time ONNX batch sizes x thread counts")
    parser.add_argument("--no-doc", action="store_true", help="don't touch docs/benchmarks.md")
    parser.add_argument("--corpus", default=None,
                        help="answers, pdfqa, indexing: folder with the pdfqa-dev PDFs "
                             "(get-corpus.sh DIR)")
    parser.add_argument("--questions-file", default=None,
                        help="answers, pdfqa: questions.jsonl (default ../shared/data/pdfqa-dev; "
                             "pdfqa also takes bench/data/pdfqa-more, scored per split)")
    parser.add_argument("--more-corpus", default=None, metavar="DIR",
                        help="pdfqa: also score bench/data/pdfqa-more on DIR (its get-corpus.sh) "
                             "and print dev / tune / test / SciFact (--scifact) in one table")
    parser.add_argument("--unanswerable", default=None, metavar="PATH",
                        help="answers: extra unanswerable questions, reported separately "
                             "(default bench/data/unanswerable.jsonl; '' to skip)")
    parser.add_argument("--configs", default="bundled,qwen,default",
                        help="answers: comma-separated model configurations")
    parser.add_argument("--fresh", action="store_true",
                        help="pdfqa: re-index the PDFs (to time indexing) instead of the cache")
    parser.add_argument("--chunks", type=int, default=1_000_000,
                        help="scale: library size in chunks (not part of `all`)")
    parser.add_argument("--team-chunks", type=int, default=100_000,
                        help="team: server-mode library size in chunks (not part of `all`)")
    parser.add_argument("--seed-library", default=None,
                        help="team: copy this embedded SciFact library to the server instead "
                             "of embedding the corpus again")
    parser.add_argument("--modes", default="hybrid,dense,keyword",
                        help="team: SciFact retrieval modes to score")
    parser.add_argument("--library", default=None,
                        help="answers: reuse (or build once into) this library folder")
    args = parser.parse_args(argv)
    offline_env()

    if args.part == "_memchild":
        from bench.memory import child

        print("HEARTH-MEM " + json.dumps(child(args.task or "index", args.scifact)), flush=True)
        return 0
    if args.part == "_scalechild":
        from bench.scale import child as scale_child

        print("HEARTH-SCALE " + json.dumps(scale_child(args.task, args.queries)), flush=True)
        return 0
    if args.part == "_teamchild":
        from bench.team import child as team_child

        print("HEARTH-TEAM " + json.dumps(team_child(args.task, args.library, args.queries)),
              flush=True)
        return 0
    parts = PARTS if args.part == "all" else () if args.part == "report" else (args.part,)
    t_all = time.perf_counter()
    failed = []
    for name in parts:
        log(f"== {name} ==")
        t0 = time.perf_counter()
        try:
            data = _run_part(name, args)
        except Exception as exc:  # one broken part must not lose the others' results
            log(f"{name} FAILED: {type(exc).__name__}: {exc}")
            data = {"error": f"{type(exc).__name__}: {exc}"}
            failed.append(name)
        data["wall_s"] = round(time.perf_counter() - t0, 1)
        profile = data.pop("profile_top", None)
        if profile:
            print(profile)
        save_section(name, data)
        log(f"{name} done in {data['wall_s']} s")
    results = load_results()
    if not args.no_doc:
        from bench.report import update_doc

        update_doc(results)
    log(f"results in {LATEST} ({time.perf_counter() - t_all:.0f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
