//! The pieces every page of `/obs/` is made of: the one escaping function, number formats,
//! the page's head and links, the chart.

use core::fmt::Write as _;

/// Appends `text` with `&`, `<`, `>`, `"` and `'` as character references: safe in element
/// content and in a quoted attribute. Every string that comes from the program (function
/// names, label values, span attributes, error messages) goes through here.
pub(crate) fn escape(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// A duration in seconds, as people read it: `85 µs`, `12.5 ms`, `1.25 s`.
pub(crate) fn seconds(s: f64) -> String {
    if s < 1e-3 {
        format!("{:.0} µs", s * 1e6)
    } else if s < 1.0 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{s:.2} s")
    }
}

/// A share, `0.0123` → `1.23%`; `—` for none.
pub(crate) fn percent(share: Option<f64>) -> String {
    share.map_or_else(|| "—".into(), |s| format!("{:.2}%", s * 100.0))
}

/// A number for a `data-value` attribute: empty for none.
pub(crate) fn data(value: Option<f64>) -> String {
    value.map_or_else(String::new, |v| format!("{v}"))
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}\
h1{font-size:1.4em;margin:0}h2{font-size:1.15em;margin-top:1.6em}nav a{margin-right:1em}\
table{border-collapse:collapse;font-variant-numeric:tabular-nums}\
th,td{padding:3px 8px;border-bottom:1px solid #e4e4e4;text-align:right;vertical-align:top}\
th{background:#f5f5f5;position:sticky;top:0}th a{color:inherit}\
td.name,th.name{text-align:left}small{color:#777}.bad{color:#b00020;font-weight:600}\
.warn{color:#b36b00}.ok{color:#1b7f3b}.note{color:#555}code{font-size:.95em}\
.bar{height:12px;background:#4a7bd0;border-radius:2px;min-width:1px}.bar.error{background:#d0453b}\
td.wf{width:45%;text-align:left}.kv{color:#555;font-size:.9em;text-align:left}";

/// The start of a page: its head (refreshing every `refresh` seconds, if given), the title and
/// the links to obs's other endpoints.
pub(crate) fn head(out: &mut String, title: &str, refresh: Option<u64>) {
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    if let Some(s) = refresh {
        let _ = write!(out, "<meta http-equiv=\"refresh\" content=\"{s}\">");
    }
    out.push_str("<meta name=\"viewport\" content=\"width=device-width\"><title>");
    escape(out, title);
    let _ = write!(
        out,
        "</title><style>{STYLE}</style></head><body><header><h1>"
    );
    escape(out, title);
    out.push_str(
        "</h1><nav><a href=\"/obs/\">/obs/</a><a href=\"/obs/functions.json\">functions.json</a>\
         <a href=\"/metrics\">/metrics</a><a href=\"/obs/rules.yml\">rules.yml</a>\
         <a href=\"/obs/dashboard.json\">dashboard.json</a><a href=\"/health/live\">/health/live</a>\
         <a href=\"/health/ready\">/health/ready</a><a href=\"/health/startup\">/health/startup</a>\
         </nav></header>\n",
    );
}

/// The end of a page.
pub(crate) fn foot(out: &mut String) {
    out.push_str("</body></html>\n");
}

/// Appends `x,y`: by hand, as `write!` of two small integers cost more than the rest of a
/// chart.
fn point(out: &mut String, x: usize, y: u32) {
    fn digits(out: &mut String, mut n: usize) {
        let mut buf = [0u8; 20];
        let mut at = buf.len();
        loop {
            at -= 1;
            buf[at] = b'0' + u8::try_from(n % 10).unwrap_or(0);
            n /= 10;
            if n == 0 {
                break;
            }
        }
        out.extend(buf[at..].iter().map(|&b| char::from(b)));
    }
    digits(out, x);
    out.push(',');
    digits(out, usize::try_from(y).unwrap_or(usize::MAX));
}

/// Points a chart draws: at most this many, each the mean rate and the highest p99 of the
/// ticks it covers (15 minutes of 5 s ticks in 60 points of 15 s).
const CHART_POINTS: usize = 60;

/// An inline SVG of the rate (blue, filled) and the p99 (orange line), each on its own scale.
///
/// Coordinates are integers on a 600 by 140 grid drawn at 120 by 28 pixels: formatting floats
/// with a precision took most of a page of 1,000 charts (`benches/live.rs`).
pub(crate) fn chart(out: &mut String, series: &[(f64, Option<f64>)]) {
    const W: usize = 600;
    const H: u32 = 140;
    let group = series.len().div_ceil(CHART_POINTS).max(1);
    #[allow(clippy::cast_precision_loss)]
    let points: Vec<(f64, Option<f64>)> = series
        .chunks(group)
        .map(|c| {
            let rate = c.iter().map(|p| p.0).sum::<f64>() / c.len() as f64;
            let p99 = c.iter().filter_map(|p| p.1).reduce(f64::max);
            (rate, p99)
        })
        .collect();
    let max_rate = points.iter().map(|p| p.0).fold(0.0, f64::max);
    let max_p99 = points.iter().filter_map(|p| p.1).fold(0.0, f64::max);
    let _ = write!(
        out,
        "<svg width=\"120\" height=\"28\" viewBox=\"0 0 {W} {H}\" role=\"img\"><title>rate up to \
         {max_rate:.2}/s, p99 up to {}</title><rect width=\"{W}\" height=\"{H}\" fill=\"#fafafa\"/>",
        seconds(max_p99)
    );
    if points.len() < 2 {
        out.push_str("</svg>");
        return;
    }
    let x = |i: usize| i * W / (points.len() - 1);
    // From the bottom (y = H) up to 5 below the top; a series of zeros lies on the bottom.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let y = |v: f64, max: f64| {
        if max > 0.0 {
            H - (v / max * f64::from(H - 5))
                .round()
                .clamp(0.0, f64::from(H)) as u32
        } else {
            H
        }
    };
    let _ = write!(
        out,
        "<polygon fill=\"#c9d9f5\" stroke=\"#4a7bd0\" stroke-width=\"4\" points=\"0,{H}"
    );
    for (i, p) in points.iter().enumerate() {
        out.push(' ');
        point(out, x(i), y(p.0, max_rate));
    }
    let _ = write!(
        out,
        " {W},{H}\"/><polyline fill=\"none\" stroke=\"#e8871e\" stroke-width=\"5\" points=\""
    );
    for (i, p) in points.iter().enumerate() {
        if let Some(v) = p.1 {
            point(out, x(i), y(v, max_p99));
            out.push(' ');
        }
    }
    out.push_str("\"/></svg>");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(text: &str) -> String {
        let mut out = String::new();
        escape(&mut out, text);
        out
    }

    #[test]
    fn escape_makes_markup_and_quotes_inert() {
        assert_eq!(
            escaped(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
        assert_eq!(escaped("Shop::reserve é"), "Shop::reserve é");
        assert_eq!(escaped(""), "");
    }

    #[test]
    fn numbers_read_as_people_write_them() {
        assert_eq!(seconds(0.000_085), "85 µs");
        assert_eq!(seconds(0.0125), "12.5 ms");
        assert_eq!(seconds(1.25), "1.25 s");
        assert_eq!(percent(Some(0.0123)), "1.23%");
        assert_eq!(percent(None), "—");
    }

    #[test]
    fn a_chart_has_both_lines_and_at_most_sixty_points() {
        let series: Vec<(f64, Option<f64>)> = (0..180).map(|i| (f64::from(i), Some(0.1))).collect();
        let mut out = String::new();
        chart(&mut out, &series);
        assert!(out.starts_with("<svg") && out.ends_with("</svg>"));
        let polygon = out.split("points=\"").nth(1).unwrap();
        assert_eq!(polygon.split('"').next().unwrap().split(' ').count(), 62);
        assert!(
            polygon.starts_with("0,140 0,139 10,137 20,135 "),
            "{polygon}"
        );
    }
}
