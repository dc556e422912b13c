//! The metrics of one function: a registered site per metric, and the guards that start
//! before the body and finish with its status.

use proc_macro2::{Span, TokenStream};
use quote::quote_spanned;
use syn::Ident;
use syn::ext::IdentExt;

use crate::args::{MetricArgs, ObjectiveArg};
use crate::plan::Plan;
use crate::shared::{DEFAULT_BUCKETS, MetricKind};

/// What the runtime is told of one metric.
///
/// Input: `name = "jobs_total", labels(queue = "fast"), status(ok = "success")`.
/// Output: `Spec::new("jobs_total", "", &[("queue", "fast")]).with_status("status", [..])`,
/// with `.with_objective(..)` for an objective.
fn spec(p: &TokenStream, args: &MetricArgs, default_name: &str) -> TokenStream {
    let name = args
        .name
        .as_ref()
        .map_or_else(|| default_name.to_owned(), syn::LitStr::value);
    let help = args
        .help
        .as_ref()
        .map(syn::LitStr::value)
        .unwrap_or_default();
    let labels = args.labels.iter().flatten().map(|(k, v)| {
        let k = k.unraw().to_string();
        quote_spanned!(Span::mixed_site()=> (#k, #v))
    });
    let m = Span::mixed_site();
    let objective = args.objective.map(|objective| match objective {
        ObjectiveArg::Success { percent } => {
            quote_spanned!(m=> .with_objective(#p::Objective::Success { percent: #percent }))
        }
        ObjectiveArg::Latency {
            seconds, percent, ..
        } => quote_spanned! {m=>
            .with_objective(#p::Objective::Latency { threshold: #seconds, percent: #percent })
        },
    });
    let status = args.status.as_ref().map(|status| {
        let label = status.label();
        let values = status.values();
        quote_spanned!(m=> .with_status(#label, [#(#values),*]))
    });
    let native = args
        .native
        .map(|schema| quote_spanned!(m=> .with_native(#schema)));
    quote_spanned!(m=> #p::Spec::new(#name, #help, &[#(#labels),*]) #objective #status #native)
}

/// What the metrics add to a function. Every generated name is at `Span::mixed_site()`.
pub(super) struct Metrics {
    p: TokenStream,
    /// The site statics, and the entry that registers them.
    pub(super) items: TokenStream,
    /// The metric guards, started before the body.
    pub(super) starts: TokenStream,
    /// The metric guards, finished with `obs_status`.
    pub(super) finishes: TokenStream,
    /// The statics of the metrics, registered together.
    sites: Vec<Ident>,
}

impl Metrics {
    pub(super) fn new(plan: &Plan, p: &TokenStream) -> Self {
        let mut metrics = Metrics {
            p: p.clone(),
            items: TokenStream::new(),
            starts: TokenStream::new(),
            finishes: TokenStream::new(),
            sites: Vec::new(),
        };
        metrics.add(plan);
        let registration = metrics.registration();
        metrics.items.extend(registration);
        metrics
    }

    fn register(&mut self, site: &Ident, ty: &TokenStream, init: &TokenStream) {
        let m = Span::mixed_site();
        self.items.extend(quote_spanned! {m=>
            static #site: #ty = #init;
        });
        self.sites.push(site.clone());
    }

    /// Registers the fn's sites in one linker-collected entry: one per fn, not per metric,
    /// since each `distributed_slice` entry costs build time (1.5 s per 1,000 fns).
    ///
    /// Input: the sites `__OBS_COUNTED`, `__OBS_TIMED`. Output: `#[distributed_slice(SITES)]
    /// static __OBS_SITES: &[&dyn Site] = &[&__OBS_COUNTED, &__OBS_TIMED];`.
    fn registration(&self) -> TokenStream {
        let m = Span::mixed_site();
        let p = &self.p;
        if self.sites.is_empty() {
            return TokenStream::new();
        }
        let sites = &self.sites;
        quote_spanned! {m=>
            #[#p::linkme::distributed_slice(#p::SITES)]
            #[linkme(crate = #p::linkme)]
            static __OBS_SITES: &'static [&'static dyn #p::Site] = &[#(&#sites),*];
        }
    }

    /// Registers the site of one metric and returns the expression that gives the call's
    /// `&'static` site: the static itself, or, with labels from the call, the labelled
    /// site's child for this call's values.
    ///
    /// Input: `labels(tier = "free", tenant = req.tenant())`
    /// Output: `static S: Labelled<CounterSite, 1> = Labelled::new(&META, spec(tier), ["tenant"], ());`
    /// and `S.site([LabelValue::as_label(&(req.tenant()))])` at the start of the call.
    fn site(
        &mut self,
        name: &str,
        child: &TokenStream,
        args: &MetricArgs,
        init: &TokenStream,
        extra: &TokenStream,
    ) -> TokenStream {
        let m = Span::mixed_site();
        let p = self.p.clone();
        let site = Ident::new(name, m);
        if args.dynamic_labels.is_empty() {
            self.register(&site, child, init);
            return quote_spanned!(m=> &#site);
        }
        let n = args.dynamic_labels.len();
        let names = args
            .dynamic_labels
            .iter()
            .map(|(k, _)| k.unraw().to_string());
        let values = args.dynamic_labels.iter().map(|(_, v)| {
            // At the value: one that is not `Display` is reported there, with the fix.
            let at = m.located_at(syn::spanned::Spanned::span(v));
            quote_spanned!(at=> #p::LabelValue::as_label(&(#v)))
        });
        self.register(
            &site,
            &quote_spanned!(m=> #p::Labelled<#child, #n>),
            &quote_spanned!(m=> #p::Labelled::new(&__OBS_META, #init, [#(#names),*], #extra)),
        );
        quote_spanned!(m=> #site.site([#(#values),*]))
    }

    /// One site and one guard per metric attribute.
    ///
    /// Input: `#[counted] #[timed]`. Output: `let obs_counted = Counted::start(&__OBS_COUNTED);
    /// let obs_timed = Timed::start(&__OBS_TIMED);` before the body, and `obs_timed.finish(s);
    /// obs_counted.finish(s);` after it. With `#[timed(native)]`:
    /// `Timed::start_native::<{ 3i8 }>(&__OBS_TIMED)`.
    fn add(&mut self, plan: &Plan) {
        let m = Span::mixed_site();
        let p = self.p.clone();
        let status = Ident::new("obs_status", m);
        let unit = quote_spanned!(m=> ());
        if let Some(args) = &plan.in_flight {
            let spec = spec(&p, args, MetricKind::Gauge.default_name());
            let (child, init) = if args.dynamic_labels.is_empty() {
                (
                    quote_spanned!(m=> #p::GaugeSite),
                    quote_spanned!(m=> #p::GaugeSite::new(&__OBS_META, #spec)),
                )
            } else {
                (quote_spanned!(m=> #p::GaugeSite), spec)
            };
            let site = self.site("__OBS_IN_FLIGHT", &child, args, &init, &unit);
            self.starts
                .extend(quote_spanned!(m=> let obs_in_flight = #p::InFlight::start(#site);));
            self.finishes
                .extend(quote_spanned!(m=> obs_in_flight.finish();));
        }
        if let Some(args) = &plan.counted {
            let spec = spec(&p, args, MetricKind::Counter.default_name());
            let (child, init) = if args.dynamic_labels.is_empty() {
                (
                    quote_spanned!(m=> #p::CounterSite),
                    quote_spanned!(m=> #p::CounterSite::new(&__OBS_META, #spec)),
                )
            } else {
                (quote_spanned!(m=> #p::CounterSite), spec)
            };
            let site = self.site("__OBS_COUNTED", &child, args, &init, &unit);
            self.starts
                .extend(quote_spanned!(m=> let obs_counted = #p::Counted::start(#site);));
            self.finishes
                .extend(quote_spanned!(m=> obs_counted.finish(#status);));
        }
        if let Some(args) = &plan.timed {
            let spec = spec(&p, args, MetricKind::Histogram.default_name());
            let bounds: Vec<f64> = args
                .buckets
                .as_ref()
                .map_or_else(|| DEFAULT_BUCKETS.to_vec(), |(b, _)| b.clone());
            let n = bounds.len();
            let bounds = bounds.into_iter().map(proc_macro2::Literal::f64_suffixed);
            let bounds = quote_spanned!(m=> [#(#bounds),*]);
            let child = quote_spanned!(m=> #p::HistogramSite<#n>);
            let init = if args.dynamic_labels.is_empty() {
                quote_spanned!(m=> #p::HistogramSite::new(&__OBS_META, #spec, #bounds))
            } else {
                spec
            };
            let site = self.site("__OBS_TIMED", &child, args, &init, &bounds);
            // Started last and finished first: the time measured is the body's. A native
            // schema goes to the guard as a constant too, so the call compiles only its path.
            let start = if let Some(schema) = args.native {
                quote_spanned!(m=> #p::Timed::start_native::<{ #schema }>(#site))
            } else {
                quote_spanned!(m=> #p::Timed::start(#site))
            };
            self.starts
                .extend(quote_spanned!(m=> let obs_timed = #start;));
            let rest = std::mem::take(&mut self.finishes);
            self.finishes = quote_spanned!(m=> obs_timed.finish(#status); #rest);
        }
    }
}
