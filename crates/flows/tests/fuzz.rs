//! Random flow files mixing deep and wide nesting of every construct the reader walks —
//! brackets, operators, conditionals, lambdas, f-strings, calls of module functions (also
//! recursive ones), constants built from each other, annotations — loaded on a 2 MiB thread:
//! each gives a flow or an error, never a panic or a stack overflow. Deterministic; set
//! `PREFAB_FUZZ_SEED` to run another seed, `PREFAB_FUZZ_CASES` for more cases.

use std::path::Path;

use prefab_flows::load_flow_from_entrypoint;

const SMALL_STACK: usize = 2 * 1024 * 1024;

/// xorshift64*: enough randomness for shapes, reproducible from the seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// An expression nesting about `depth` levels, of a random mix of constructs.
fn expr(rng: &mut Rng, depth: usize) -> String {
    let mut e = rng
        .pick(&[
            "1",
            "'s'",
            "C0",
            "None",
            "True",
            "2.5",
            "[]",
            "{}",
            "helper(1)",
        ])
        .to_string();
    for _ in 0..depth {
        e = match rng.below(16) {
            0 => format!("[{e}]"),
            1 => format!("({e},)"),
            2 => format!("{{'k': {e}}}"),
            3 => format!("{e} + {e}"),
            4 => format!("-{e}"),
            5 => format!("not {e}"),
            6 => format!("{e} if C0 else 2"),
            7 => format!("lambda: {e}"),
            8 => format!("f'{{{e}}}'"),
            9 => format!("helper({e})"),
            10 => format!("rec({e})"),
            11 => format!("{e}[0]"),
            12 => format!("{e} or 'x'"),
            13 => format!("{e}.upper()"),
            14 => format!("({e} == 1)"),
            _ => format!("C0 + {e}"),
        };
        if e.len() > 200_000 {
            break;
        }
    }
    e
}

fn annotation(rng: &mut Rng, depth: usize) -> String {
    let mut t = rng.pick(&["int", "str", "T0", "'int'", "None"]).to_string();
    for _ in 0..depth {
        t = match rng.below(6) {
            0 => format!("list[{t}]"),
            1 => format!("dict[str, {t}]"),
            2 => format!("Optional[{t}]"),
            3 => format!("tuple[{t}, ...]"),
            4 => format!("{t} | None"),
            _ => format!("Annotated[{t}, Field(description='d')]"),
        };
    }
    t
}

fn flow_file(rng: &mut Rng) -> String {
    let depth = |rng: &mut Rng| match rng.below(4) {
        0 => rng.below(10) as usize,
        1 => rng.below(150) as usize,
        2 => rng.below(400) as usize,
        _ => rng.below(4000) as usize,
    };
    let mut src = String::from(
        "from typing import Annotated, Optional\nfrom pydantic import Field\nfrom prefect import flow\n\n\
         def helper(x, y=1):\n    return x\n\n\
         def rec(n):\n    if n:\n        return rec(n)\n    return n\n\nT0 = int\n",
    );
    let chain = rng.below(1200);
    src.push_str("C0 = 1\n");
    for i in 1..chain {
        let piece = match rng.below(3) {
            0 => format!("C{i} = [C{}]\n", i - 1),
            1 => format!("C{i} = {{'k': C{}}}\n", i - 1),
            _ => format!("T{i} = list[T{}]\n", i - 1),
        };
        src.push_str(&piece);
    }
    let d = depth(rng);
    src.push_str(&format!("N = {}\n", expr(rng, d)));
    let (d1, d2) = (depth(rng), depth(rng));
    let last = chain.saturating_sub(1);
    src.push_str(&format!(
        "\n\n@flow(name={})\ndef f(a: {} = {}, b=C{last}, c: 'T{last}' = None):\n    pass\n",
        expr(rng, d1.min(50)),
        annotation(rng, d2.min(300)),
        expr(rng, d1),
    ));
    src
}

#[test]
fn random_deep_flow_files_never_crash_the_reader() {
    let seed: u64 = std::env::var("PREFAB_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_f10e);
    let cases: usize = std::env::var("PREFAB_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let mut rng = Rng(seed | 1);
    let dir = tempfile::tempdir().unwrap();
    for case in 0..cases {
        let src = flow_file(&mut rng);
        let file = dir.path().join("flow.py");
        std::fs::write(&file, &src).unwrap();
        let root = dir.path().to_path_buf();
        let outcome = std::thread::Builder::new()
            .stack_size(SMALL_STACK)
            .spawn(move || {
                load_flow_from_entrypoint("flow.py:f", Path::new(&root)).map(|l| l.flow.name)
            })
            .unwrap()
            .join();
        if outcome.is_err() {
            let keep = std::env::temp_dir().join(format!("prefab-flow-fuzz-{seed}-{case}.py"));
            std::fs::write(&keep, &src).unwrap();
            panic!(
                "seed {seed}, case {case}: the reader panicked; input kept in {}",
                keep.display()
            );
        }
    }
}
