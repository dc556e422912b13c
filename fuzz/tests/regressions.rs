//! Replays every committed input through the check its fuzz target runs, on the stable
//! toolchain and without libFuzzer: `regressions/<target>/` (crashes found once, kept so they
//! stay fixed) and `corpus/<target>/` (the seeds). An empty folder passes.

use std::path::Path;

#[test]
fn every_committed_input_replays_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut replayed = 0;
    for (target, check) in obs_fuzz::TARGETS {
        for folder in ["regressions", "corpus"] {
            let dir = root.join(folder).join(target);
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            let mut files: Vec<_> = entries
                .map(|e| e.expect("readable folder").path())
                .collect();
            files.sort();
            for file in files {
                if file.file_name().is_some_and(|n| n == ".gitkeep") {
                    continue;
                }
                let data = std::fs::read(&file).expect("readable input");
                eprintln!("{target}: {}", file.display());
                check(&data);
                replayed += 1;
            }
        }
    }
    eprintln!("{replayed} inputs replayed");
}
