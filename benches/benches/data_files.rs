//! Deployment-file loading benchmarks (group `data_files`), pure CPU:
//!
//! - `yaml_200_definitions`: `prefab_core::yaml::load` of a 200-deployment file (the bulk
//!   workload's shape: cron, parameters, tags, a trigger each), with every value's position;
//! - `yaml_refuse_flow_nesting/N`: how long a `{x: [[[…]]]}` document N levels deep takes to be
//!   refused. The time must not grow with N beyond reading the text (libyaml through
//!   `serde_yaml_ng`, used before, took time quadratic in N: 0.22 s at 10k levels, 3.6 s at 40k,
//!   56 s at 100k);
//! - `yaml_refuse_alias_bomb`: a billion-laughs document, refused at the value limit.
//!
//! `cargo bench -p prefab-benches --bench data_files`.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

fn definitions(n: usize) -> String {
    let mut text = String::from("deployments:\n");
    for i in 0..n {
        text.push_str(&format!(
            "  - entrypoint: six_params.py:ingest_orders\n    name: bulk-{i:03}\n    cron: '{} {} * * *'\n    parameters: {{shard: {i}, mode: full, regions: [eu, us]}}\n    tags: [orders, shard-{}]\n    triggers:\n      - type: event\n        expect: [acme.orders.landed]\n        match: {{prefect.resource.id: acme.bucket.shard-{i}}}\n",
            i % 60,
            (i / 60) % 24,
            i % 10
        ));
    }
    text
}

fn data_files(c: &mut Criterion) {
    let mut group = c.benchmark_group("data_files");
    let file = definitions(200);
    group.bench_function("yaml_200_definitions", |b| {
        b.iter(|| prefab_core::yaml::load(black_box(&file)).expect("valid"))
    });
    for n in [10_000usize, 40_000, 160_000] {
        let deep = format!("{{x: {}{}}}", "[".repeat(n), "]".repeat(n));
        group.bench_with_input(
            BenchmarkId::new("yaml_refuse_flow_nesting", n),
            &deep,
            |b, deep| b.iter(|| prefab_core::yaml::load(black_box(deep)).expect_err("too deep")),
        );
    }
    let mut bomb = String::from("l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        let refs = vec![format!("*l{}", i - 1); 10].join(", ");
        bomb.push_str(&format!("l{i}: &l{i} [{refs}]\n"));
    }
    group.bench_function("yaml_refuse_alias_bomb", |b| {
        b.iter(|| prefab_core::yaml::load(black_box(&bomb)).expect_err("a bomb"))
    });
    group.finish();
}

criterion_group!(benches, data_files);
criterion_main!(benches);
