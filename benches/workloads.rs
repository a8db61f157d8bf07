//! Benchmark harness for ../shared/bench/WORKLOADS.md (not yet written).
fn main() {}
