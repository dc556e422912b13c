//! The third phase, plan: the attributes on one function, or on an `impl` block and its
//! methods, merged into one plan, so each function is wrapped once whatever attributes are
//! stacked on it. It only merges: the arguments were parsed and checked before.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::{Attribute, ItemImpl};

use crate::args::{Args, Kind, MetricArgs, TraceArgs, combine};
use crate::input::{Input, Method, Target, all_or_errors};
use crate::item::RawFn;

/// What to generate for one function: the attributes on it, merged.
#[derive(Clone, Default)]
pub(crate) struct Plan {
    krate: Option<syn::Path>,
    /// `not_failure = [..]` of all the attributes on the fn: a status is not a failure of
    /// the fn for its span, its metrics, and the rules and dashboard alike.
    pub(crate) not_failures: Vec<syn::LitStr>,
    pub(crate) counted: Option<MetricArgs>,
    pub(crate) timed: Option<MetricArgs>,
    pub(crate) in_flight: Option<MetricArgs>,
    pub(crate) traced: Option<TraceArgs>,
}

impl Plan {
    /// Adds one attribute's arguments. `replace` lets a method's own attribute override the
    /// one on its `impl` block; otherwise the same attribute twice is an error.
    fn add(&mut self, args: Args, replace: bool, at: Span) -> syn::Result<()> {
        let kind = args.kind;
        let taken = match kind {
            Kind::Counted => self.counted.replace(args.metric).is_some(),
            Kind::Timed => self.timed.replace(args.metric).is_some(),
            Kind::InFlight => self.in_flight.replace(args.metric).is_some(),
            Kind::Traced => self.traced.replace(args.trace).is_some(),
        };
        if taken && !replace {
            return Err(syn::Error::new(
                at,
                format!("#[{}] is given twice here: keep one", kind.name()),
            ));
        }
        if let Some(krate) = args.krate {
            self.krate = Some(krate);
        }
        for status in args.not_failure.into_iter().flatten() {
            if !self
                .not_failures
                .iter()
                .any(|s| s.value() == status.value())
            {
                self.not_failures.push(status);
            }
        }
        Ok(())
    }

    /// The path to `obs_runtime`: `crate = path`, or `::obs_runtime`.
    pub(crate) fn krate(&self) -> TokenStream {
        self.krate.as_ref().map_or_else(
            || quote_spanned!(Span::mixed_site()=> ::obs_runtime),
            |path| quote!(#path),
        )
    }
}

/// What to expand, and the errors found so far: what [`expand`](crate::expand) takes.
pub struct Planned {
    pub(crate) errors: Option<syn::Error>,
    pub(crate) work: Work,
}

/// What the expansion has to do.
pub(crate) enum Work {
    /// Wrap one fn (there are no errors).
    Fn { plan: Box<Plan>, f: Box<RawFn> },
    /// Wrap the methods of an `impl` block (there are no errors at the block's level).
    Impl {
        imp: Box<ItemImpl>,
        methods: Vec<MethodPlan>,
    },
    /// Emit the item as it is, beside the errors.
    AsIs(TokenStream),
}

/// A method of an instrumented `impl` block, planned.
pub(crate) struct MethodPlan {
    /// Its position among the block's items.
    pub(crate) index: usize,
    pub(crate) f: RawFn,
    /// All its attributes, obs's marked merged: what is emitted when the block fails.
    pub(crate) merged_attrs: Vec<Attribute>,
    /// The errors of its own attributes (given twice, or refused by the earlier phases).
    pub(crate) errors: Option<syn::Error>,
    pub(crate) wrap: Wrap,
}

/// How a method is wrapped.
pub(crate) enum Wrap {
    /// With the block's attributes, each overridden by the method's own of the same kind.
    Merged(Plan),
    /// Refused: a `const fn` with obs attributes of its own (the plan of those, which the
    /// error names).
    ConstRefused(Plan),
    /// Left alone: a `const fn` under the block's attributes only, which cannot record at
    /// compile time.
    ConstLeft,
}

/// Merges the attribute being expanded with those stacked on the item.
pub fn plan(input: Input) -> Planned {
    let Input { kind, own, item } = input;
    let mut errors = None;
    let own = own.unwrap_or_else(|e| {
        combine(&mut errors, e);
        Args::empty(kind)
    });
    let mut plan = Plan::default();
    if let Err(e) = plan.add(own, false, Span::call_site()) {
        combine(&mut errors, e);
    }
    let work = match item {
        Target::Fn { f, stacked } => {
            add_all(&mut plan, stacked, false, f.sig.ident.span(), &mut errors);
            if errors.is_none() {
                Work::Fn {
                    plan: Box::new(plan),
                    f: Box::new(f),
                }
            } else {
                Work::AsIs(quote!(#f))
            }
        }
        Target::Impl {
            imp,
            stacked,
            methods,
        } => {
            add_all(&mut plan, stacked, false, imp.impl_token.span, &mut errors);
            if errors.is_none() {
                let methods = methods.into_iter().map(|m| plan_method(&plan, m)).collect();
                Work::Impl {
                    imp: Box::new(imp),
                    methods,
                }
            } else {
                // The methods keep their own attributes, which expand (and report) on their own.
                Work::AsIs(quote!(#imp))
            }
        }
        Target::AsIs { tokens, error } => {
            if let Some(e) = error {
                combine(&mut errors, e);
            }
            Work::AsIs(tokens)
        }
    };
    Planned { errors, work }
}

/// A method's own attributes over the block's plan.
///
/// Input: `#[timed] impl S { fn a() {} #[counted] fn b() {} }`.
/// Output: `a` planned timed, `b` timed and counted.
fn plan_method(block: &Plan, method: Method) -> MethodPlan {
    let Method {
        index,
        f,
        stacked,
        merged_attrs,
    } = method;
    let mut errors = None;
    let at = f.sig.ident.span();
    // Each of the method's own attributes overrides the block's, but two of the same on
    // the method are a mistake, and one on a `const fn` is refused like on a free fn.
    let parsed = stacked.iter().all(Result::is_ok);
    let own = parsed && !stacked.is_empty();
    let mut own_plan = Plan {
        krate: block.krate.clone(),
        ..Plan::default()
    };
    if parsed {
        add_all(&mut own_plan, stacked.clone(), false, at, &mut errors);
    }
    let mut merged = block.clone();
    add_all(&mut merged, stacked, true, at, &mut errors);
    let wrap = match (f.sig.constness.is_some(), own) {
        (false, _) => Wrap::Merged(merged),
        (true, true) => Wrap::ConstRefused(own_plan),
        (true, false) => Wrap::ConstLeft,
    };
    MethodPlan {
        index,
        f,
        merged_attrs,
        errors,
        wrap,
    }
}

/// Adds the stacked attributes to `plan`, or, if any of them failed, none (their errors go
/// to `errors`).
fn add_all(
    plan: &mut Plan,
    stacked: Vec<syn::Result<Args>>,
    replace: bool,
    at: Span,
    errors: &mut Option<syn::Error>,
) {
    match all_or_errors(stacked) {
        Ok(all) => {
            for args in all {
                let at = args.at.unwrap_or(at);
                if let Err(e) = plan.add(args, replace, at) {
                    combine(errors, e);
                }
            }
        }
        Err(e) => combine(errors, e),
    }
}
