//! The impl-block form, with `#[exclude]` and per-method overrides.

use futures_executor::block_on;
use obs_runtime::{counted, exclude, in_flight, timed, traced};

use crate::harness::{YieldOnce, assert_calls, render, sample, samples, setup};

struct Repo {
    rows: Vec<u32>,
}

#[counted]
#[timed]
#[in_flight]
#[traced]
impl Repo {
    fn row(&self, i: usize) -> Result<u32, String> {
        self.rows
            .get(i)
            .copied()
            .ok_or_else(|| format!("no row {i}"))
    }

    #[exclude]
    fn len(&self) -> usize {
        self.rows.len()
    }

    fn push(&mut self, row: u32) -> &mut Self {
        self.rows.push(row);
        self
    }

    #[counted(labels(kind = "special"))]
    fn special() -> u8 {
        1
    }

    const fn capacity() -> usize {
        3
    }

    async fn row_later(&self, i: usize) -> Result<u32, String> {
        YieldOnce(false).await;
        self.row(i)
    }
}

#[test]
fn impl_block_form_with_exclude() {
    setup();
    let mut repo = Repo { rows: vec![] };
    repo.push(1).push(2);
    assert_eq!(repo.row(1), Ok(2));
    assert!(repo.row(5).is_err());
    assert_eq!(repo.len(), 2);
    assert_eq!(Repo::special(), 1);
    assert_eq!(Repo::capacity(), 3);
    assert_eq!(block_on(repo.row_later(0)), Ok(1));
    // `row` is called by `row_later` too.
    assert_calls("Repo::row", &[("ok", 2), ("error", 1)]);
    assert_calls("Repo::push", &[("ok", 2)]);
    assert_calls("Repo::row_later", &[("ok", 1)]);
    assert_calls("Repo::special", &[("ok", 1)]);
    let page = render();
    assert!(
        !page.text().contains("function=\"Repo::len\""),
        "excluded:\n{page}"
    );
    assert!(
        !page.text().contains("function=\"Repo::capacity\""),
        "const fn left alone:\n{page}"
    );
    // The method's own `#[counted(..)]` replaced the block's for that method only.
    assert_eq!(
        sample(
            &page,
            "function_calls_total",
            &[("function", "Repo::special"), ("status", "ok")]
        )
        .map(|s| s.text.as_str()),
        Some("1")
    );
    let special = samples(
        &page,
        "function_calls_total",
        &[("function", "Repo::special"), ("kind", "special")],
    );
    assert_eq!(
        special.len(),
        1,
        "ok only (a `u8` cannot be an error), with the method's label: {special:?}"
    );
    let row = samples(&page, "function_calls_total", &[("function", "Repo::row")]);
    assert!(row.iter().all(|s| s.label("kind").is_none()), "{row:?}");
}
