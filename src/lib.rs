//! The workspace root: it hosts obs's examples (`examples/`), behaviour tests (`tests/`) and
//! compile-fail suite (`tests/ui/`). The library is `obs-runtime`; the attributes come from
//! `obs-macros` through it.
