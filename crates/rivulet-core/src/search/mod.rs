//! MLflow's search grammar for runs, experiments and traces: filter strings and `order_by` clauses,
//! parsed into typed clauses that each store renders into SQL with bound parameters.

mod ast;
mod clause;
mod lexer;
mod parser;
#[cfg(test)]
mod test_support;
mod trace_ast;
mod trace_filter;

pub use ast::*;
pub use parser::{
    parse_experiment_filter, parse_experiment_order_by, parse_run_filter, parse_run_order_by,
};
pub use trace_ast::*;
pub use trace_filter::{parse_trace_filter, parse_trace_order_by};
