//! `Filter`: drops every record it is applied to; used with a predicate
//! (`transforms.X.predicate`, optionally `negate`) to drop the records that match.

use sluice_sdk::{ConfigDef, ConnectRecord, ConnectResult, ParsedConfig};

use crate::Smt;

pub struct Filter;

impl Smt for Filter {
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new()
    }
    fn configure(&mut self, _c: &ParsedConfig) -> ConnectResult<()> {
        Ok(())
    }
    fn apply<R: ConnectRecord>(&self, _record: R) -> ConnectResult<Option<R>> {
        Ok(None)
    }
}
