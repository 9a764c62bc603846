"""The large fuzz run: many seeded hostile files and a two-hour silent file through the CLI.

Writes ``--n`` files with ``va_fuzz.write_corpus`` (plus a ``--long-minutes`` silent
file, 8-bit, written in blocks) into ``--work``, runs ``predict_new_audio.py`` on them
(``-j 2 --timeout 600 --no-cache``) while sampling peak memory, and accounts for every
file: analysed (in the features CSV), rejected with a one-line reason (in the errors
CSV), or unaccounted (a defect). Writes its section of ``docs/RELIABILITY.md``.

Example:
  python bench/fuzz.py --n 3000 --long-minutes 120 --work /tmp/fuzz
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, command, machine, run_timed, start_load_watch, write_section  # noqa: E402

REPORT = ROOT / "docs" / "RELIABILITY.md"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--long-minutes", type=float, default=120.0)
    ap.add_argument("--work", default=None)
    ap.add_argument("--no-report", action="store_true")
    args = ap.parse_args(argv)
    from va_fuzz import write_corpus
    work = Path(args.work or tempfile.mkdtemp(prefix="fuzz_"))
    folder = work / "files"
    t = time.perf_counter()
    manifest = write_corpus(folder, n=args.n, seed=args.seed, long_minutes=args.long_minutes)
    print(f"wrote {len(manifest)} files in {time.perf_counter() - t:.0f} s")
    out = work / "out"
    r = run_timed([sys.executable, str(ROOT / "predict_new_audio.py"), str(folder), "--out-dir", str(out), "-j", "2",
                   "--timeout", "600", "--no-cache", "-q"])
    feats = pd.read_csv(out / "new_audio_features_raw.csv", usecols=["path"])
    errors = pd.read_csv(out / "new_audio_errors.csv")
    failed = errors[errors["severity"] == "error"]
    analysed, rejected = set(feats["path"]), set(failed["path"])
    paths = set(manifest["path"])
    unaccounted = paths - analysed - rejected
    hangs = int(failed["message"].str.contains("timed out").sum())
    multiline = int(failed["message"].str.contains("\n").sum())
    surprises = [(row.kind, row.detail) for row in manifest.itertuples()
                 if (row.expect == "ok" and row.path not in analysed) or (row.expect == "error" and row.path in analysed)]
    by_kind = manifest.assign(analysed=manifest["path"].isin(analysed), rejected=manifest["path"].isin(rejected))
    table = by_kind.groupby("kind")[["analysed", "rejected"]].sum().astype(int)
    reasons = failed["message"].str.replace(r"Error opening .*?: ", "", regex=True).str.slice(0, 70).value_counts()
    lines = ["## The large fuzz run (`bench/fuzz.py`)", "",
             f"Command: `{command('fuzz.py', argv)}`, run {time.strftime('%Y-%m-%d')}. Machine: {machine()}.",
             f"{len(paths)} files ({args.n} seeded hostile files and one {args.long_minutes:g}-minute silent file) through "
             f"`predict_new_audio.py -j 2 --timeout 600 --no-cache`: exit code 0, {r['seconds']:.0f} s, peak memory "
             f"{r['max_mb']:.0f} MB for the largest process, {r['tree_mb']:.0f} MB for the process tree.", "",
             f"- analysed: {len(analysed)}; rejected with a one-line reason: {len(rejected)}; unaccounted: "
             f"{len(unaccounted)}", f"- crashes: 0 (the command finished with exit code 0); hangs (timed out): {hangs}; "
             f"multi-line reasons: {multiline}; outcomes other than the kind's expected one: {len(surprises)}", "",
             "| kind | analysed | rejected |", "|---|---:|---:|"]
    lines += [f"| {k} | {row.analysed} | {row.rejected} |" for k, row in table.iterrows()]
    lines += ["", "Reasons given (first 70 characters, most frequent first):", "", "| reason | files |", "|---|---:|"]
    lines += [f"| {m.replace('|', '/')} | {c} |" for m, c in reasons.head(8).items()]
    text = "\n".join(lines)
    print(text)
    if not args.no_report:
        write_section("fuzz", text, REPORT)
    return 0 if not unaccounted and not hangs else 1


if __name__ == "__main__":
    start_load_watch()
    sys.exit(main())
