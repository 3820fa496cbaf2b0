//! Turning a [`RunnerConfig`] into a `[[runners]]` table laid out as upstream writes it.
//!
//! Upstream's encoder writes a table's plain keys first, in struct declaration order, then
//! its sub-tables in the same order, and indents every level by two spaces:
//!
//! ```toml
//! [[runners]]
//!   name = "build-host-01"
//!   [runners.docker]
//!     image = "alpine:latest"
//!     [[runners.docker.services]]
//!       name = "postgres:16"
//! ```

use serde::Serialize;
use toml_edit::{ArrayOfTables, InlineTable, Item, Table, Value};

use crate::runner::RunnerConfig;

/// The runner as a table to push onto the `runners` array of tables.
pub(crate) fn runner_table(runner: &RunnerConfig) -> Result<Table, toml_edit::ser::Error> {
    let value = runner.serialize(toml_edit::ser::ValueSerializer::new())?;
    let mut table = Table::new();
    if let Value::InlineTable(inline) = value {
        fill_table(&mut table, inline, 1);
    }
    Ok(table)
}

/// Fills `table` (at nesting `depth`, the runner entry being 1) from `inline`.
fn fill_table(table: &mut Table, inline: InlineTable, depth: usize) {
    let key_indent = "  ".repeat(depth);
    let mut nested: Vec<(String, Item)> = Vec::new();
    for (key, value) in inline {
        match value {
            Value::InlineTable(child) => {
                let mut child_table = Table::new();
                child_table.decor_mut().set_prefix("  ".repeat(depth));
                fill_table(&mut child_table, child, depth + 1);
                nested.push((key.to_string(), Item::Table(child_table)));
            }
            Value::Array(array)
                if !array.is_empty() && array.iter().all(Value::is_inline_table) =>
            {
                let mut tables = ArrayOfTables::new();
                for element in array {
                    if let Value::InlineTable(child) = element {
                        let mut child_table = Table::new();
                        child_table.decor_mut().set_prefix("  ".repeat(depth));
                        fill_table(&mut child_table, child, depth + 1);
                        tables.push(child_table);
                    }
                }
                nested.push((key.to_string(), Item::ArrayOfTables(tables)));
            }
            mut plain => {
                plain.decor_mut().clear();
                table.insert(&key, Item::Value(plain));
                if let Some(mut written_key) = table.key_mut(&key) {
                    written_key.leaf_decor_mut().set_prefix(key_indent.as_str());
                }
            }
        }
    }
    for (key, item) in nested {
        table.insert(&key, item);
    }
}
