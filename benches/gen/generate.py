#!/usr/bin/env python3
"""Generates the crates the scale benches build; nothing generated is committed.

    generate.py scrape  OUT_DIR [N] [native]
                                      crate with N (10,000) `#[counted] #[timed]` functions whose
                                      binary renders obs's page (text and protobuf) and encodes
                                      the same series with prometheus-client, and prints the times;
                                      with `native`, `#[timed(native)]` (the protobuf page then
                                      carries native buckets too); its binary run with
                                      OBS_GEN_PAGES=DIR also writes both pages there
                                      (obs.txt, prometheus-client.txt) to compare them
    generate.py compile OUT_DIR [N]   four crates of N (1,000) functions: `plain` (no attribute),
                                      `tracing` (`#[tracing::instrument]`), `traced` (obs's
                                      `#[traced]`, the same job) and `obs` (`#[traced]
                                      #[counted] #[timed]`), with identical manifests

Each crate is standalone (its own `[workspace]`), depends on this checkout's obs-runtime by
path, and starts from this workspace's Cargo.lock so it builds with the same versions.
"""

import os
import shutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    # Leave files that are already right alone, so cargo does not rebuild them.
    if os.path.exists(path):
        with open(path) as f:
            if f.read() == text:
                return
    with open(path, "w") as f:
        f.write(text)


def manifest(name, deps, extra=""):
    return f"""[package]
name = "{name}"
version = "0.0.0"
edition = "2024"
publish = false

[workspace]

[dependencies]
obs-runtime = {{ path = "{ROOT}/obs-runtime" }}
{deps}
[profile.release]
debug = false
{extra}"""


def lockfile(out):
    lock = os.path.join(ROOT, "Cargo.lock")
    dest = os.path.join(out, "Cargo.lock")
    if not os.path.exists(dest):
        shutil.copyfile(lock, dest)


SCRAPE_MAIN = """//! Renders obs's page for N instrumented functions called with two statuses each, and
//! encodes the same series with prometheus-client, in one process. Prints medians.
#![allow(missing_docs)]

mod fns;

use std::hint::black_box;
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Labels {
    function: String,
    module: String,
    status: &'static str,
}

const ROUNDS: usize = 21;

fn median(mut times: Vec<Duration>) -> f64 {
    times.sort();
    times[times.len() / 2].as_secs_f64() * 1e3
}

fn timed<T>(times: &mut Vec<Duration>, work: impl FnOnce() -> T) {
    let start = Instant::now();
    black_box(work());
    times.push(start.elapsed());
}

fn main() {
    for f in fns::FNS {
        black_box(f(0)).ok();
        black_box(f(1)).ok();
    }
    let page = obs_runtime::render();
    let obs_series = page.lines().filter(|l| !l.starts_with('#')).count();
    let protobuf = obs_runtime::render_protobuf();

    let mut registry = Registry::default();
    let calls = Family::<Labels, Counter>::default();
    // obs's own default buckets (22, 10 µs to 10 s), so both pages carry the same series: the
    // peer had OTel's 14 until issue 27, when obs's page had 44 % more lines than the peer's.
    let durations = Family::<Labels, Histogram>::new_with_constructor(|| {
        Histogram::new(obs_runtime::DEFAULT_BUCKETS.iter().copied())
    });
    registry.register("function_calls", "Calls", calls.clone());
    registry.register("function_duration_seconds", "Durations", durations.clone());
    for i in 0..fns::FNS.len() {
        for (status, seconds) in [("ok", 0.000_001), ("error", 0.000_002)] {
            let labels = Labels {
                function: format!("f{i:05}"),
                module: "obs_gen_scrape::fns".to_owned(),
                status,
            };
            calls.get_or_create(&labels).inc();
            durations.get_or_create(&labels).observe(seconds);
        }
    }
    let mut peer_page = String::new();
    prometheus_client::encoding::text::encode(&mut peer_page, &registry).unwrap();
    let peer_series = peer_page.lines().filter(|l| !l.starts_with('#')).count();
    if let Some(dir) = std::env::var_os("OBS_GEN_PAGES") {
        let dir = std::path::Path::new(&dir);
        std::fs::write(dir.join("obs.txt"), &page).unwrap();
        std::fs::write(dir.join("prometheus-client.txt"), &peer_page).unwrap();
    }

    // The three take turns within each round, so a build that takes a core for a few seconds
    // slows all three alike instead of the one that happened to run then.
    let (mut obs_times, mut protobuf_times, mut peer_times) = (vec![], vec![], vec![]);
    for _ in 0..ROUNDS {
        timed(&mut obs_times, obs_runtime::render);
        timed(&mut protobuf_times, obs_runtime::render_protobuf);
        timed(&mut peer_times, || {
            let mut out = String::new();
            prometheus_client::encoding::text::encode(&mut out, &registry).unwrap();
            out
        });
    }

    println!("functions {}", fns::FNS.len());
    println!("obs_render_ms {:.3}", median(obs_times));
    println!("obs_page_bytes {}", page.len());
    println!("obs_sample_lines {obs_series}");
    println!("obs_protobuf_ms {:.3}", median(protobuf_times));
    println!("obs_protobuf_bytes {}", protobuf.len());
    println!("prometheus_client_encode_ms {:.3}", median(peer_times));
    println!("prometheus_client_page_bytes {}", peer_page.len());
    println!("prometheus_client_sample_lines {peer_series}");
}
"""


def scrape(out, n, native=False):
    deps = 'prometheus-client = "0.24"\n'
    write(os.path.join(out, "Cargo.toml"), manifest("obs-gen-scrape", deps))
    lockfile(out)
    write(os.path.join(out, "src/main.rs"), SCRAPE_MAIN)
    lines = [
        "//! Generated by benches/gen/generate.py: do not edit.",
        "#![allow(clippy::all)]",
        "use obs_runtime::{counted, timed};",
        "",
        f"pub static FNS: [fn(u64) -> Result<u64, u64>; {n}] = [",
    ]
    lines += [f"    f{i:05}," for i in range(n)]
    lines += ["];", ""]
    for i in range(n):
        lines += [
            "#[counted]",
            "#[timed(native)]" if native else "#[timed]",
            f"pub fn f{i:05}(x: u64) -> Result<u64, u64> {{",
            f"    if x % 2 == 0 {{ Ok(x + {i}) }} else {{ Err(x) }}",
            "}",
        ]
    write(os.path.join(out, "src/fns.rs"), "\n".join(lines) + "\n")


COMPILE_VARIANTS = {
    "plain": ("", ""),
    "tracing": ("#[tracing::instrument]\n", ""),
    # The same job as `tracing::instrument`: a span per call, nothing else.
    "traced": ("#[traced]\n", "use obs_runtime::traced;\n"),
    "obs": (
        "#[traced]\n#[counted]\n#[timed]\n",
        "use obs_runtime::{counted, timed, traced};\n",
    ),
}


def compile_crates(out, n):
    # Identical manifests: the crates differ only in their source, so the difference in build
    # time is what the attributes cost.
    deps = 'tracing = { version = "0.1", default-features = false, features = ["std", "attributes"] }\n'
    for variant, (attrs, imports) in COMPILE_VARIANTS.items():
        crate = os.path.join(out, variant)
        write(os.path.join(crate, "Cargo.toml"), manifest(f"obs-gen-compile-{variant}", deps))
        lockfile(crate)
        lines = [
            "//! Generated by benches/gen/generate.py: do not edit.",
            "#![allow(clippy::all, dead_code)]",
            imports,
            "#[derive(Debug)]",
            "pub struct Failed(pub u64);",
            "",
            "impl std::fmt::Display for Failed {",
            "    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {",
            '        write!(f, "failed on {}", self.0)',
            "    }",
            "}",
            "",
        ]
        for i in range(n):
            lines.append(
                f"{attrs}pub fn f{i:04}(x: u64, name: &str) -> Result<u64, Failed> {{\n"
                f"    if name.is_empty() {{\n"
                f"        return Err(Failed(x));\n"
                f"    }}\n"
                f"    Ok(x.wrapping_mul({i + 1}) ^ name.len() as u64)\n"
                f"}}\n"
            )
        write(os.path.join(crate, "src/lib.rs"), "\n".join(lines))


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("scrape", "compile"):
        sys.exit(__doc__)
    out = os.path.abspath(sys.argv[2])
    if sys.argv[1] == "scrape":
        native = len(sys.argv) > 4 and sys.argv[4] == "native"
        scrape(out, int(sys.argv[3]) if len(sys.argv) > 3 else 10_000, native)
    else:
        compile_crates(out, int(sys.argv[3]) if len(sys.argv) > 3 else 1_000)


if __name__ == "__main__":
    main()
