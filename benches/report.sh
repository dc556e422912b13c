#!/usr/bin/env bash
# Runs every benchmark of obs beside its peers and writes BENCHMARKS.md at the repo root:
#
#   bash benches/report.sh            # everything: 13.3 minutes on 2 cores at load 1.1
#                                     # from an empty target/ (2026-12-07, 679a4c5), 10.6
#                                     # with the builds there (8bb9ef2; 1018166 took 14.1
#                                     # on a slower VM); its step times are kept in
#                                     # target/obs-report/steps.txt and quoted in BENCHMARKS.md's
#                                     # header
#   bash benches/report.sh --quick    # skips the generated scrape and compile-time crates
#   bash benches/report.sh --soak     # adds the soak (SOAK_SECS, default 600 s)
#
# Steps (each one's raw output is kept in target/obs-report/), with their minutes in the last
# full run (28.6 minutes on a quiet machine, load 1.1, at 1f8f35f) and what issue 27 took off,
# estimated from the parts measured alone (the lead engineer's next full run replaces these):
#   1. per-call overhead, sync and async, obs beside tracing, fastrace, metrics, prometheus,
#      metered, and one thread against two (criterion, one process): 3.7 minutes, less about
#      0.3 (62 cases, criterion's bootstrap at 10,000 resamples, 0.29 CPU s less per case);
#   2. exported spans: obs beside tracing-opentelemetry, fastrace and a bare Registry, all
#      sending OTLP/HTTP to one receiver in the bench, then obs's exporter throughput
#      (criterion, one process; its standard error, obs's JSON log lines, goes to /dev/null):
#      5.6 minutes. Run alone here (load 3-4, each output line stamped): 3m55s, of which the
#      12 cases' warm-up and samples take about 55 s, the throughput runs 7 s, and two waits
#      between cases the rest: fastrace's unbounded queue (6.3 million spans) drained to the
#      receiver after its case, 143 s, and `obs_collector_down`'s guard dropped with the
#      bench's 30 s flush timeout to a port nobody listens on, 30.5 s (benches/spans.rs: not
#      changed here);
#   3. autometrics 3 with each of its four backends (one process per backend: autometrics
#      refuses two backends in one build; each process measures bare and obs too): 3.1
#      minutes, four builds and 24 cases of 2 s (builds and runs not measured apart);
#   4. memory of 10 million #[timed] calls beside metrics-exporter-prometheus, then the cost of
#      native histograms: a #[timed(native)] call beside #[timed], and the page of 1,000 native
#      functions in each format: memory 0.1 minutes; native 1.9, less 0.4 (warm-up 1 s: its
#      run alone, once built, 59 s at load 1);
#   5. render time of a generated crate of 10,000 #[counted] #[timed] functions beside
#      prometheus-client encoding the same series: 6.0 minutes, nearly all the release build
#      of the generated crate (here, load 6-7: 6m55s from scratch, 7m42s the crate alone, then
#      20-25 s for the binary's 63 timed renders); not shortened: the renderer's per-site code
#      (`impl Site for HistogramSite<22>`) is compiled in that crate, so a lighter profile for
#      it changes what is measured; optimized proc macros (build-override opt-level 3) built
#      slower (12m21s from scratch against 6m55s; the crate itself no faster): not kept;
#   6. build time of a generated crate of 1,000 functions: no attribute, #[tracing::instrument],
#      #[traced] alone, #[traced] #[counted] #[timed]: 8.2 minutes, less 2.4 (the untimed
#      build of each crate dropped: measured alone here, load 5-7.5, 7m59s);
#   7. with --soak only: benches/soak, minutes of calls, scrapes and OTLP export to a receiver
#      that goes down a third of the time (RSS, exact counts, spans accounted, scrape latency).
# Needs cargo, python3 and network access to crates.io for the peers.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=false
soak=false
for arg in "$@"; do
    case "$arg" in
    --quick) quick=true ;;
    --soak) soak=true ;;
    *) echo "unknown argument: $arg (expected --quick, --soak)" >&2 && exit 2 ;;
    esac
done

out=target/obs-report
gen=target/obs-gen
rm -rf "$out"
mkdir -p "$out" "$gen"
export CRITERION_HOME="$PWD/$out/criterion"
export CARGO_TERM_COLOR=never
# criterion's bootstrap resamples (default 100,000) only give the confidence intervals printed
# beside each figure; the median report.py reads is the samples' own median, the same with any
# count. 10,000 took 0.12 s of analysis per case against 0.71 s (a 20-case criterion bench,
# load 8): about a minute over the report's ~110 cases.
resamples=10000

# Each step's start, in seconds since the report began, for the header of BENCHMARKS.md.
step() {
    printf '\n== %s (%ss)\n' "$1" "$SECONDS" >&2
    printf '%s %s\n' "$SECONDS" "$1" >>"$out/steps.txt"
}

step "overhead (criterion)"
# Built first with its messages shown; then run with standard error sent to a sink: the
# `exemplars` group's console exporter prints a line per span there (162 MB, 1.2 million lines
# through `tee` in the last full run), which no figure reads.
cargo bench -p obs-benches --bench overhead --no-run 2>&1 | tee "$out/overhead-build.txt" >&2
cargo bench -p obs-benches --bench overhead -- --nresamples "$resamples" 2>/dev/null \
    | tee "$out/overhead.txt" >&2

step "exported spans (criterion) and exporter throughput"
# Built first with its messages shown; then run with standard error (obs's JSON log lines, one
# per leaf of the `obs_json_logs` case) sent to a sink: a failed check is said on stdout.
cargo bench -p obs-benches --bench spans --no-run 2>&1 | tee "$out/spans-build.txt" >&2
# One second of warm-up and three of samples per case (criterion's default is 3 + 5): a case
# is microseconds per iteration, so hundreds of thousands of spans still go into each median.
cargo bench -p obs-benches --bench spans -- --warm-up-time 1 --measurement-time 3 \
    --nresamples "$resamples" 2>/dev/null | tee "$out/spans.txt" >&2

step "autometrics, one process per backend"
for backend in metrics opentelemetry prometheus prometheus-client; do
    # A backend that fails to build or run is reported missing, not fatal. `--bench`: the
    # package's library has no benchmark, so its test harness is not built and run for nothing.
    cargo bench -p obs-peer-autometrics --no-default-features --features "$backend" \
        --bench autometrics -- --nresamples "$resamples" 2>&1 \
        | tee "$out/autometrics-$backend.txt" >&2 || echo "autometrics $backend: failed" >&2
done

step "memory"
cargo bench -p obs-benches --bench memory 2>&1 | tee "$out/memory.txt" >&2 || true

step "native histograms (criterion, under a minute)"
# One second of warm-up rather than criterion's three (the groups set their measurement times,
# not their warm-up): a case here is nanoseconds, or a millisecond page, so that is still
# millions of calls or hundreds of pages before the samples; 22 s less over 11 cases.
cargo bench -p obs-benches --bench native -- --warm-up-time 1 --nresamples "$resamples" 2>&1 \
    | tee "$out/native.txt" >&2

if ! $quick; then
    # The generated crates are standalone; they share one target dir under target/.
    export CARGO_TARGET_DIR="$PWD/$gen/target"

    step "scrape of 10,000 functions"
    python3 benches/gen/generate.py scrape "$gen/scrape" 10000
    (cd "$gen/scrape" && cargo build --release >&2 && cargo run --release -q) \
        | tee "$out/scrape.txt" >&2

    step "compile time of 1,000 functions"
    python3 benches/gen/generate.py compile "$gen/compile" 1000
    : >"$out/compile.txt"
    export CARGO_INCREMENTAL=0
    for profile in dev release; do
        # Dependencies once per profile, untimed: the four manifests and lock files are the
        # same and share CARGO_TARGET_DIR, so `plain` (its own code builds in a second) builds
        # what the three others link to. Each crate was built once more, untimed, before its
        # timed runs until issue 27: a whole untimed round, 2.4 of the step's 8.2 minutes.
        (cd "$gen/compile/plain" && cargo build --profile "$profile" >&2)
        for variant in plain tracing traced obs; do
            crate="$gen/compile/$variant"
            # The crate alone, from scratch, twice; report.py keeps the faster (on a shared
            # machine the slower is the one another build got in the way of).
            for run in 1 2; do
                touch "$crate/src/lib.rs"
                start=$EPOCHREALTIME
                (cd "$crate" && cargo build --profile "$profile" >&2)
                end=$EPOCHREALTIME
                awk -v p="$profile" -v v="$variant" -v r="$run" -v s="$start" -v e="$end" \
                    'BEGIN { printf "%s %s %s %.3f\n", p, v, r, e - s }' | tee -a "$out/compile.txt" >&2
            done
        done
    done
    unset CARGO_TARGET_DIR CARGO_INCREMENTAL
fi

if $soak; then
    step "soak (${SOAK_SECS:-600} s)"
    cargo bench -p obs-soak --bench soak 2>"$out/soak.stderr" | tee "$out/soak.txt" >&2
fi

step "BENCHMARKS.md"
python3 benches/report.py "$out" >BENCHMARKS.md
echo "wrote BENCHMARKS.md" >&2
