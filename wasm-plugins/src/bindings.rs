//! Host bindings generated from `sdk/wit/sluice.wit`, one module per world. The `types` and
//! `host` interfaces are generated once (in `source`) and shared by the others.

pub mod source {
    wasmtime::component::bindgen!({ world: "source", path: "../sdk/wit" });
}

pub mod sink {
    wasmtime::component::bindgen!({
        world: "sink",
        path: "../sdk/wit",
        with: {
            "sluice:plugin/types": crate::bindings::source::sluice::plugin::types,
            "sluice:plugin/host": crate::bindings::source::sluice::plugin::host,
        },
    });
}

pub mod transform {
    wasmtime::component::bindgen!({
        world: "transform",
        path: "../sdk/wit",
        with: {
            "sluice:plugin/types": crate::bindings::source::sluice::plugin::types,
            "sluice:plugin/host": crate::bindings::source::sluice::plugin::host,
        },
    });
}

pub mod predicate {
    wasmtime::component::bindgen!({
        world: "predicate",
        path: "../sdk/wit",
        with: {
            "sluice:plugin/types": crate::bindings::source::sluice::plugin::types,
            "sluice:plugin/host": crate::bindings::source::sluice::plugin::host,
        },
    });
}

pub use source::sluice::plugin::types;
