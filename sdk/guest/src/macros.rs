//! The export macros: each defines a hidden type implementing the generated `Guest` trait by
//! delegating to your plugin type, and exports it as the component's world.

/// Exports a [`crate::SourcePlugin`] (feature `source`).
#[macro_export]
macro_rules! export_source {
    ($t:ty) => {
        #[doc(hidden)]
        pub struct __SluiceExport;
        impl $crate::bindings::Guest for __SluiceExport {
            fn info() -> $crate::bindings::PluginInfo {
                $crate::glue::source::info::<$t>()
            }
            fn task_configs(config: $crate::bindings::Props, max_tasks: u32) -> Result<Vec<$crate::bindings::Props>, $crate::bindings::ConnectError> {
                $crate::glue::source::task_configs::<$t>(config, max_tasks)
            }
            fn start(config: $crate::bindings::Props) -> Result<(), $crate::bindings::ConnectError> {
                $crate::glue::source::start::<$t>(config)
            }
            fn poll() -> Result<Vec<$crate::bindings::SourceRecord>, $crate::bindings::ConnectError> {
                $crate::glue::source::poll::<$t>()
            }
            fn commit() -> Result<(), $crate::bindings::ConnectError> {
                $crate::glue::source::commit::<$t>()
            }
            fn stop() {
                $crate::glue::source::stop::<$t>()
            }
        }
        $crate::bindings::export_world!(__SluiceExport with_types_in $crate::bindings);
    };
}

/// Exports a [`crate::SinkPlugin`] (feature `sink`).
#[macro_export]
macro_rules! export_sink {
    ($t:ty) => {
        #[doc(hidden)]
        pub struct __SluiceExport;
        impl $crate::bindings::Guest for __SluiceExport {
            fn info() -> $crate::bindings::PluginInfo {
                $crate::glue::sink::info::<$t>()
            }
            fn task_configs(config: $crate::bindings::Props, max_tasks: u32) -> Result<Vec<$crate::bindings::Props>, $crate::bindings::ConnectError> {
                $crate::glue::sink::task_configs::<$t>(config, max_tasks)
            }
            fn start(config: $crate::bindings::Props) -> Result<(), $crate::bindings::ConnectError> {
                $crate::glue::sink::start::<$t>(config)
            }
            fn put(records: Vec<$crate::bindings::SinkRecord>) -> Result<(), $crate::bindings::ConnectError> {
                $crate::glue::sink::put::<$t>(records)
            }
            fn flush(offsets: Vec<$crate::bindings::TopicPartitionOffset>) -> Result<(), $crate::bindings::ConnectError> {
                $crate::glue::sink::flush::<$t>(offsets)
            }
            fn stop() {
                $crate::glue::sink::stop::<$t>()
            }
        }
        $crate::bindings::export_world!(__SluiceExport with_types_in $crate::bindings);
    };
}

/// Exports a [`crate::TransformPlugin`] (feature `transform`).
#[macro_export]
macro_rules! export_transform {
    ($t:ty) => {
        #[doc(hidden)]
        pub struct __SluiceExport;
        impl $crate::bindings::Guest for __SluiceExport {
            fn info() -> $crate::bindings::PluginInfo {
                $crate::glue::transform::info::<$t>()
            }
            fn configure(config: $crate::bindings::Props) -> Result<(), $crate::bindings::ConnectError> {
                $crate::glue::transform::configure::<$t>(config)
            }
            fn apply(records: Vec<u8>) -> Result<Vec<u8>, $crate::bindings::ConnectError> {
                $crate::glue::transform::apply::<$t>(records)
            }
        }
        $crate::bindings::export_world!(__SluiceExport with_types_in $crate::bindings);
    };
}

/// Exports a [`crate::PredicatePlugin`] (feature `predicate`).
#[macro_export]
macro_rules! export_predicate {
    ($t:ty) => {
        #[doc(hidden)]
        pub struct __SluiceExport;
        impl $crate::bindings::Guest for __SluiceExport {
            fn info() -> $crate::bindings::PluginInfo {
                $crate::glue::predicate::info::<$t>()
            }
            fn configure(config: $crate::bindings::Props) -> Result<(), $crate::bindings::ConnectError> {
                $crate::glue::predicate::configure::<$t>(config)
            }
            fn test(records: Vec<u8>) -> Result<Vec<bool>, $crate::bindings::ConnectError> {
                $crate::glue::predicate::test::<$t>(records)
            }
        }
        $crate::bindings::export_world!(__SluiceExport with_types_in $crate::bindings);
    };
}
