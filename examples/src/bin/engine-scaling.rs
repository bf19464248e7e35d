//! Engine scaling: how many checks + records per second the engine does as threads and
//! customers grow, beside a plain baseline measured in the same run (issue 12's table).
//!
//! One op is what a gated, metered request costs the engine on a warm cache:
//! `kelviq.cached_entitlements(id)` → `has_access("api-calls")`, then
//! `meter.record(id, "api-calls", 1)` (`--in-place`: the check reads the snapshot in
//! place with `with_cached_entitlements`, taking no reference to it; `--gate`: the op is
//! what the adapters run per request, `Gate::admit` with the request's own `Arc<str>` id,
//! then `Gate::finish(200)` metering one unit of a hard-limited feature, so each request
//! holds its unit while in flight; `--gate-unenforced`: the same gate with
//! `unenforced_limit()`, no holds, what a request cost before holds existed). The baseline op is a read of a plain
//! `HashMap<String, HashMap<String, bool>>`, then an increment in one shared
//! `Mutex<HashMap<(String, String), i64>>`; its keys are built once, so it allocates
//! nothing (the criterion bench `hot_path` builds them on every call, so its baseline is
//! dearer).
//!
//! Cells: threads 1, 2, 4, … and the machine's cores (`--oversubscribe`: twice the cores
//! too) × 1 customer and 10,000 customers, spread uniformly: each thread walks its own
//! shuffled order of them, so threads do not march in lockstep. Threads are std threads
//! spinning on ops; the fake Kelviq (seeded with the 10,000 customers) and the meter's
//! flush task run on a tokio runtime in the same process. The cache's TTL is an hour (no
//! refresh during a run), the meter flushes every second (`--flush-interval SECONDS` to
//! see how coalescing holds with a longer one). Each cell is warmed first (every
//! customer's snapshot loaded and checked, both ops run briefly); then each side runs
//! `seconds` in two interleaved halves (kelviq-rs, baseline, baseline, kelviq-rs) so that
//! drift hits both alike. Before each half the meter is flushed off the clock, so that
//! neither side runs beside the other's backlog: a kelviq-rs half pays for the meter's
//! work during it, not for the last flush after it. The meter's table shows, per cell,
//! the reports sent (coalescing) and the CPU the runtime's threads used meanwhile: the
//! fake answering reports and the meter sending them, which on a small machine compete
//! with the spinning threads (the real Kelviq would not).
//!
//! Run: `scripts/engine-scaling.sh [seconds per side per cell, default 3]
//! [--oversubscribe] [--in-place | --gate | --gate-unenforced] [--one-customer]
//! [--flush-interval SECONDS] [--runs N]`, or
//! `cargo run --release -p kelviq-examples --bin engine-scaling -- 3`. A cell takes
//! `2 × seconds` plus the warm-up and flushes (sent at the meter's report budget: 10,000
//! pending keys take 50 s at 200 reports/s); on 2 cores a run takes a few minutes.
//! `--runs N` measures each cell N times and shows each side's median run: the
//! 10,000-customer cells are memory-bound, and on a shared or monitored machine one run
//! can be off by half. Markdown tables, ready for the README.
//! Absolute figures depend on the machine and on what else runs; the ratios to the
//! baseline of the same run are the figures to compare.

#![allow(clippy::print_stdout)]

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex, PoisonError};
use std::time::{Duration, Instant};

use kelviq_client::Kelviq;
use kelviq_client::gate::{Admission, Gate, Metered};
use kelviq_client::meter::{MeterConfig, MeterStats, UsageMeter};
use kelviq_examples::bench::{self, METERED};

/// The customer counts of the table.
const CUSTOMER_COUNTS: [usize; 2] = [1, 10_000];

/// Ops a thread runs between two looks at the stop flag.
const BATCH: u64 = 64;

/// The name of the runtime's threads (the fake Kelviq, the meter's task), whose CPU time
/// the meter's table shows.
const RUNTIME_THREAD: &str = "fake+meter";

/// How long each side spins before a cell is measured.
const WARM_UP: Duration = Duration::from_millis(200);

type BoxError = Box<dyn std::error::Error>;

fn main() -> ExitCode {
    match Options::parse(std::env::args().skip(1)).and_then(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("engine-scaling: {error}");
            ExitCode::FAILURE
        }
    }
}

struct Options {
    /// How long each side runs per cell.
    per_cell: Duration,
    /// Also run twice as many threads as cores.
    oversubscribe: bool,
    /// The meter's flush interval.
    flush_interval: Duration,
    /// What one op runs on the kelviq-rs side.
    op: Op,
    /// How many times each cell is measured; the table shows each side's median.
    runs: usize,
    /// Only the one-customer cells (the hot customer; a few seconds, not minutes).
    one_customer: bool,
}

const USAGE: &str = "usage: engine-scaling [seconds per side per cell] [--oversubscribe] \
                     [--in-place | --gate | --gate-unenforced] [--one-customer] \
                     [--flush-interval SECONDS] [--runs N]";

fn seconds(arg: Option<String>) -> Result<Duration, BoxError> {
    let arg = arg.ok_or(USAGE)?;
    let seconds: f64 = arg.parse().map_err(|_| format!("{USAGE}; got \"{arg}\""))?;
    Ok(Duration::try_from_secs_f64(seconds.max(0.1))?)
}

impl Options {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Self, BoxError> {
        let mut options = Options {
            per_cell: Duration::from_secs(3),
            oversubscribe: false,
            flush_interval: Duration::from_secs(1),
            op: Op::Shared,
            runs: 1,
            one_customer: false,
        };
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--oversubscribe" => options.oversubscribe = true,
                "--one-customer" => options.one_customer = true,
                "--in-place" => options.op = Op::InPlace,
                "--gate" => options.op = Op::Gate,
                "--gate-unenforced" => options.op = Op::GateUnenforced,
                "--flush-interval" => options.flush_interval = seconds(args.next())?,
                "--runs" => {
                    let runs = args.next().ok_or(USAGE)?;
                    options.runs = runs
                        .parse::<usize>()
                        .ok()
                        .filter(|&runs| (1..=99).contains(&runs))
                        .ok_or_else(|| format!("--runs takes 1 to 99; got \"{runs}\""))?;
                }
                _ => options.per_cell = seconds(Some(arg))?,
            }
        }
        Ok(options)
    }
}

/// What one op of the kelviq-rs side runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// `cached_entitlements` + `has_access`, then `record`.
    Shared,
    /// `with_cached_entitlements` + `has_access`, then `record`.
    InPlace,
    /// `Gate::admit`, then `Gate::finish(200)`: the request holds its unit.
    Gate,
    /// The same, with a gate that does not enforce the limit (no holds).
    GateUnenforced,
}

impl Op {
    fn describe(self) -> &'static str {
        match self {
            Op::Shared => "check with `cached_entitlements` (an `Arc` per op), then `record`",
            Op::InPlace => "check with `with_cached_entitlements` (in place), then `record`",
            Op::Gate => {
                "`Gate::admit` (the request's own `Arc<str>` id, holding one unit of the hard \
                 limit), then `Gate::finish(200)`"
            }
            Op::GateUnenforced => {
                "`Gate::admit` (the request's own `Arc<str>` id, `unenforced_limit`: no hold), \
                 then `Gate::finish(200)`"
            }
        }
    }
}

/// The kelviq-rs side: the client (its cache warm), its meter, and a gate requiring and
/// metering the feature.
struct Engine {
    kelviq: Kelviq,
    meter: UsageMeter,
    gate: Gate,
    ids: Vec<String>,
    /// Ops that found no fresh snapshot, or no access (never on a warm cache).
    misses: AtomicU64,
    /// Records the meter refused.
    refused: AtomicU64,
    op: Op,
}

impl Engine {
    fn op(&self, index: usize) {
        let id = self.ids[index].as_str();
        let allowed = match self.op {
            Op::Shared => self
                .kelviq
                .cached_entitlements(id)
                .is_some_and(|snapshot| snapshot.has_access(METERED)),
            Op::InPlace => self
                .kelviq
                .with_cached_entitlements(id, |snapshot| snapshot.has_access(METERED))
                .unwrap_or(false),
            Op::Gate | Op::GateUnenforced => {
                self.request(id);
                return;
            }
        };
        if !allowed {
            self.misses.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if self.meter.record(id, METERED, 1).is_err() {
            self.refused.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// What an adapter runs for one request on a warm cache.
    fn request(&self, id: &str) {
        let Admission::Ready(Ok(context)) = self.gate.admit(Some(Arc::from(id))) else {
            self.misses.fetch_add(1, Ordering::Relaxed);
            return;
        };
        if !matches!(
            self.gate.finish(&context, 200, None),
            Metered::Recorded { .. }
        ) {
            self.refused.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The baseline side: a plain map read and one shared mutex.
struct Baseline {
    ids: Vec<String>,
    entitlements: HashMap<String, HashMap<String, bool>>,
    /// The counter keys, built once: `(customer, METERED)`.
    keys: Vec<(String, String)>,
    counters: Mutex<HashMap<(String, String), i64>>,
}

impl Baseline {
    fn new(ids: &[String]) -> Self {
        let features = ["reports", METERED, "seats"]
            .map(|feature| (feature.to_owned(), true))
            .into_iter()
            .collect::<HashMap<_, _>>();
        Baseline {
            ids: ids.to_vec(),
            entitlements: ids
                .iter()
                .map(|id| (id.clone(), features.clone()))
                .collect(),
            keys: ids
                .iter()
                .map(|id| (id.clone(), METERED.to_owned()))
                .collect(),
            counters: Mutex::new(HashMap::new()),
        }
    }

    fn op(&self, index: usize) {
        let allowed = self
            .entitlements
            .get(self.ids[index].as_str())
            .and_then(|features| features.get(METERED))
            .copied()
            .unwrap_or(false);
        if !allowed {
            return;
        }
        let key = &self.keys[index];
        let mut counters = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
        match counters.get_mut(key) {
            Some(count) => *count += 1,
            None => {
                counters.insert(key.clone(), 1);
            }
        }
    }
}

/// Ops done and the wall time they took.
#[derive(Debug, Default, Clone, Copy)]
struct Throughput {
    ops: u64,
    elapsed: Duration,
}

impl Throughput {
    fn add(&mut self, run: Throughput) {
        self.ops += run.ops;
        self.elapsed += run.elapsed;
    }

    fn ops_per_second(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64()
    }

    /// What one op costs the thread that runs it.
    fn ns_per_op(&self, threads: usize) -> f64 {
        self.elapsed.as_secs_f64() * 1e9 * threads as f64 / self.ops.max(1) as f64
    }
}

/// What the meter did while the kelviq-rs side ran.
#[derive(Debug, Default, Clone, Copy)]
struct MeterDelta {
    recorded: i128,
    reports: u64,
    coalesced: u64,
    seconds: f64,
    pending_keys: u64,
    /// CPU time of the runtime's threads: the fake answering reports, the meter sending.
    runtime_cpu: Duration,
}

impl MeterDelta {
    fn add(&mut self, before: &MeterStats, after: &MeterStats, elapsed: Duration, cpu: Duration) {
        self.runtime_cpu += cpu;
        self.recorded += after.recorded - before.recorded;
        self.reports += after.sent_requests.saturating_sub(before.sent_requests);
        self.coalesced += after.coalesced.saturating_sub(before.coalesced);
        self.seconds += elapsed.as_secs_f64();
        self.pending_keys = after.pending_keys;
    }
}

/// One cell of the table.
struct Cell {
    threads: usize,
    customers: usize,
    kelviq: Throughput,
    baseline: Throughput,
    meter: MeterDelta,
}

/// Runs `op` on `threads` threads for `duration`, each walking its own shuffled order of
/// the customers `0..customers`.
fn spin(
    threads: usize,
    customers: usize,
    duration: Duration,
    op: &(impl Fn(usize) + Sync),
) -> Result<Throughput, BoxError> {
    let stop = AtomicBool::new(false);
    let start = Barrier::new(threads + 1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|thread| {
                let (stop, start) = (&stop, &start);
                scope.spawn(move || {
                    let mut order: Vec<usize> = (0..customers).collect();
                    fastrand::Rng::with_seed(thread as u64 + 1).shuffle(&mut order);
                    start.wait();
                    let mut ops = 0;
                    let mut next = 0;
                    while !stop.load(Ordering::Relaxed) {
                        for _ in 0..BATCH {
                            op(order[next]);
                            next += 1;
                            if next == order.len() {
                                next = 0;
                            }
                        }
                        ops += BATCH;
                    }
                    ops
                })
            })
            .collect();
        start.wait();
        let started = Instant::now();
        std::thread::sleep(duration);
        stop.store(true, Ordering::Relaxed);
        let counts: Vec<_> = workers.into_iter().map(|worker| worker.join()).collect();
        let elapsed = started.elapsed();
        let mut ops = 0;
        for count in counts {
            ops += count.map_err(|_| "a worker thread panicked")?;
        }
        Ok(Throughput { ops, elapsed })
    })
}

fn measure(
    runtime: &tokio::runtime::Runtime,
    engine: &Engine,
    baseline: &Baseline,
    threads: usize,
    customers: usize,
    per_cell: Duration,
) -> Result<Cell, BoxError> {
    let kelviq_op = |index| engine.op(index);
    let baseline_op = |index| baseline.op(index);
    // Nothing pending at the start of a run: the meter's backlog is flushed off the clock.
    let settle = || runtime.block_on(engine.meter.flush());
    // Every customer of the cell loaded and checked; both sides warm.
    runtime.block_on(bench::warm(&engine.kelviq, &engine.ids[..customers]))?;
    settle()?;
    spin(threads, customers, WARM_UP, &kelviq_op)?;
    settle()?;
    spin(threads, customers, WARM_UP, &baseline_op)?;

    let mut cell = Cell {
        threads,
        customers,
        kelviq: Throughput::default(),
        baseline: Throughput::default(),
        meter: MeterDelta::default(),
    };
    let half = per_cell / 2;
    for kelviq_first in [true, false] {
        for kelviq_now in [kelviq_first, !kelviq_first] {
            settle()?;
            if kelviq_now {
                let (before, cpu_before) = (engine.meter.stats(), runtime_cpu());
                let run = spin(threads, customers, half, &kelviq_op)?;
                let cpu = runtime_cpu().saturating_sub(cpu_before);
                cell.meter
                    .add(&before, &engine.meter.stats(), run.elapsed, cpu);
                cell.kelviq.add(run);
            } else {
                cell.baseline
                    .add(spin(threads, customers, half, &baseline_op)?);
            }
        }
    }
    Ok(cell)
}

/// The median of several measurements of one cell, each side on its own: kelviq-rs's
/// median run (with the meter's figures of that run) beside the baseline's median run.
fn median(mut runs: Vec<Cell>) -> Result<Cell, BoxError> {
    let by_cost = |a: &Throughput, b: &Throughput| a.ns_per_op(1).total_cmp(&b.ns_per_op(1));
    let mut baselines: Vec<Throughput> = runs.iter().map(|cell| cell.baseline).collect();
    baselines.sort_by(by_cost);
    runs.sort_by(|a, b| by_cost(&a.kelviq, &b.kelviq));
    let middle = runs.len() / 2;
    let baseline = *baselines.get(middle).ok_or("no run measured")?;
    let mut cell = runs.swap_remove(middle);
    cell.baseline = baseline;
    Ok(cell)
}

/// Threads 1, 2, 4, … below `cores`, then `cores` (and twice that when asked).
fn thread_counts(cores: usize, oversubscribe: bool) -> Vec<usize> {
    let mut counts: Vec<usize> = std::iter::successors(Some(1_usize), |n| n.checked_mul(2))
        .take_while(|&n| n < cores)
        .collect();
    counts.push(cores);
    if oversubscribe {
        counts.push(cores * 2);
    }
    counts
}

fn run(options: Options) -> Result<(), BoxError> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .thread_name(RUNTIME_THREAD)
        .enable_all()
        .build()?;
    let ids = bench::customer_ids(CUSTOMER_COUNTS[1]);
    let mock = runtime.block_on(bench::start_mock(&ids))?;
    let meter_config = MeterConfig::default().flush_interval(options.flush_interval);
    let kelviq = bench::client(&mock, ids.len(), meter_config)?;
    // The meter's flush task runs on the runtime.
    let meter = {
        let _runtime = runtime.enter();
        kelviq.usage_meter()?.clone()
    };
    let gate = kelviq.gate().require(METERED).meter(METERED, 1);
    let gate = if options.op == Op::GateUnenforced {
        gate.unenforced_limit()
    } else {
        gate
    }
    .build()?;
    let engine = Engine {
        kelviq,
        meter,
        gate,
        ids: ids.clone(),
        op: options.op,
        misses: AtomicU64::new(0),
        refused: AtomicU64::new(0),
    };
    let baseline = Baseline::new(&ids);
    let threads = thread_counts(cores, options.oversubscribe);
    eprintln!(
        "engine-scaling: {cores} cores, threads {threads:?}, customers {CUSTOMER_COUNTS:?}, \
         {:.1} s per side per cell, median of {} run(s){}",
        options.per_cell.as_secs_f64(),
        options.runs,
        if cfg!(debug_assertions) {
            " (DEBUG BUILD: use --release)"
        } else {
            ""
        }
    );

    let mut cells = Vec::new();
    let counts = CUSTOMER_COUNTS
        .into_iter()
        .filter(|&customers| customers == 1 || !options.one_customer);
    for customers in counts {
        for &threads in &threads {
            let runs = (0..options.runs).map(|_| {
                measure(
                    &runtime,
                    &engine,
                    &baseline,
                    threads,
                    customers,
                    options.per_cell,
                )
            });
            let cell = median(runs.collect::<Result<_, _>>()?)?;
            eprintln!(
                "  {threads} threads, {customers} customers: {} ops/s kelviq-rs, {} ops/s baseline",
                thousands(cell.kelviq.ops_per_second()),
                thousands(cell.baseline.ops_per_second()),
            );
            cells.push(cell);
        }
    }
    print_tables(&cells, cores, &options);

    let misses = engine.misses.load(Ordering::Relaxed);
    let refused = engine.refused.load(Ordering::Relaxed);
    if misses + refused > 0 {
        println!(
            "\nWARNING: {misses} ops found no fresh snapshot with access, {refused} records refused: \
             the figures above are not of a warm cache"
        );
    }
    let report = runtime.block_on(engine.meter.shutdown(Duration::from_secs(30)));
    let stats = report.stats;
    println!(
        "\nmeter over the whole run: {} units recorded, {} sent in {} reports, {} pending, \
         {} unknown, {} failed",
        stats.recorded, stats.sent, stats.sent_requests, stats.pending, stats.unknown, stats.failed
    );
    Ok(())
}

fn print_tables(cells: &[Cell], cores: usize, options: &Options) {
    let find = |threads, customers| {
        cells
            .iter()
            .find(|cell| cell.threads == threads && cell.customers == customers)
    };
    let [few, many] = CUSTOMER_COUNTS;
    let max_threads = cells.iter().map(|cell| cell.threads).max().unwrap_or(1);
    let cost = |cell: &Cell| {
        (
            cell.kelviq.ns_per_op(cell.threads),
            cell.baseline.ns_per_op(cell.threads),
        )
    };
    let speedup = |threads, customers| {
        let (Some(one), Some(more)) = (find(1, customers), find(threads, customers)) else {
            return (f64::NAN, f64::NAN);
        };
        (
            more.kelviq.ops_per_second() / one.kelviq.ops_per_second(),
            more.baseline.ops_per_second() / one.baseline.ops_per_second(),
        )
    };

    println!(
        "{cores} cores, release build, {:.1} s per side per cell, one process (fake Kelviq and \
         meter on a tokio runtime beside the spinning threads); op: {}\n",
        options.per_cell.as_secs_f64(),
        options.op.describe(),
    );
    println!("| case | kelviq-rs | the same run's baseline | goal |");
    println!("|---|---|---|---|");
    if let (Some(one), Some(spread)) = (find(1, few), find(1, many)) {
        let (kelviq_one, baseline_one) = cost(one);
        let (kelviq_spread, baseline_spread) = cost(spread);
        println!(
            "| check + record, 1 thread, 1 customer | {} µs/op | {} µs/op (kelviq-rs {:.1}×) | — |",
            micros(kelviq_one),
            micros(baseline_one),
            kelviq_one / baseline_one
        );
        let (kelviq_ratio, baseline_ratio) =
            (kelviq_spread / kelviq_one, baseline_spread / baseline_one);
        println!(
            "| check + record, 1 thread, {} customers | {} µs/op ({kelviq_ratio:.1}× one customer) \
             | {} µs/op ({baseline_ratio:.2}× one customer) | ratio ≤ 1.2× the baseline's: {:.2}× |",
            thousands(many as f64),
            micros(kelviq_spread),
            micros(baseline_spread),
            kelviq_ratio / baseline_ratio
        );
    }
    if find(2, few).is_some() {
        let (kelviq, baseline) = speedup(2, few);
        println!(
            "| check + record, 2 threads vs 1, one hot customer | {kelviq:.2}× | {baseline:.2}× | ≥ 1.6× |"
        );
        let (kelviq, baseline) = speedup(2, many);
        println!(
            "| check + record, 2 threads vs 1, {} customers | {kelviq:.2}× | {baseline:.2}× | ≥ 1.8× |",
            thousands(many as f64)
        );
    }
    if max_threads > 2 {
        let (kelviq_hot, baseline_hot) = speedup(max_threads, few);
        let (kelviq_spread, baseline_spread) = speedup(max_threads, many);
        println!(
            "| check + record, {max_threads} threads vs 1 | {kelviq_hot:.2}× (one hot customer), \
             {kelviq_spread:.2}× ({} customers) | {baseline_hot:.2}×, {baseline_spread:.2}× | \
             linear would be {max_threads}× |",
            thousands(many as f64)
        );
    }

    println!(
        "\n| threads | customers | kelviq-rs ops/s | ns/op per thread | baseline ops/s | ns/op per \
         thread | kelviq-rs cost / baseline | kelviq-rs vs 1 thread | baseline vs 1 thread |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for cell in cells {
        let (kelviq_ns, baseline_ns) = cost(cell);
        let (kelviq_speedup, baseline_speedup) = speedup(cell.threads, cell.customers);
        println!(
            "| {} | {} | {} | {kelviq_ns:.0} | {} | {baseline_ns:.0} | {:.1}× | {kelviq_speedup:.2}× \
             | {baseline_speedup:.2}× |",
            cell.threads,
            thousands(cell.customers as f64),
            thousands(cell.kelviq.ops_per_second()),
            thousands(cell.baseline.ops_per_second()),
            kelviq_ns / baseline_ns,
        );
    }

    println!(
        "\n| threads | kelviq-rs {0} / 1 customer | baseline {0} / 1 customer | kelviq-rs's \
         ratio / the baseline's (goal ≤ 1.2) |",
        thousands(many as f64)
    );
    println!("|---|---|---|---|");
    for cell in cells.iter().filter(|cell| cell.customers == many) {
        let Some(one) = find(cell.threads, few) else {
            continue;
        };
        let (kelviq_spread, baseline_spread) = cost(cell);
        let (kelviq_one, baseline_one) = cost(one);
        let (kelviq_ratio, baseline_ratio) =
            (kelviq_spread / kelviq_one, baseline_spread / baseline_one);
        println!(
            "| {} | {kelviq_ratio:.2}× | {baseline_ratio:.2}× | {:.2}× |",
            cell.threads,
            kelviq_ratio / baseline_ratio
        );
    }

    println!(
        "\nThe meter while kelviq-rs ran (flush every {:.1} s: coalescing holds when each active \
         key is sent about once per flush)\n",
        options.flush_interval.as_secs_f64()
    );
    println!(
        "| threads | customers | units recorded | reports sent | records per report | reports/s \
         | records coalesced | keys pending at the end | fake + meter CPU |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for cell in cells {
        let meter = &cell.meter;
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {:.0} % of a core |",
            cell.threads,
            thousands(cell.customers as f64),
            thousands(meter.recorded as f64),
            thousands(meter.reports as f64),
            if meter.reports == 0 {
                "—".to_owned()
            } else {
                thousands(meter.recorded as f64 / meter.reports as f64)
            },
            thousands(meter.reports as f64 / meter.seconds.max(f64::MIN_POSITIVE)),
            thousands(meter.coalesced as f64),
            thousands(meter.pending_keys as f64),
            100.0 * meter.runtime_cpu.as_secs_f64() / meter.seconds.max(f64::MIN_POSITIVE),
        );
    }
}

/// CPU time the runtime's threads have used so far, from Linux's
/// `/proc/self/task/*/schedstat` (zero where there is none).
fn runtime_cpu() -> Duration {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    let read = |task: &std::fs::DirEntry, file| std::fs::read_to_string(task.path().join(file));
    let nanos = tasks
        .flatten()
        .filter(|task| read(task, "comm").is_ok_and(|name| name.trim() == RUNTIME_THREAD))
        .filter_map(|task| {
            read(&task, "schedstat")
                .ok()?
                .split_whitespace()
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum();
    Duration::from_nanos(nanos)
}

/// A count with thousands separators, rounded: `1,234,567`.
fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// Nanoseconds as microseconds with three significant places at most: `0.612`, `2.93`.
fn micros(nanos: f64) -> String {
    let micros = nanos / 1000.0;
    if micros < 1.0 {
        format!("{micros:.3}")
    } else if micros < 10.0 {
        format!("{micros:.2}")
    } else {
        format!("{micros:.1}")
    }
}
