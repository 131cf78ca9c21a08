//! Memory and CPU of a server's whole process tree, from Linux /proc.
//!
//! `mlflow server` is a Python process that starts uvicorn, which starts worker
//! processes; Rivulet is one process. Both are measured the same way: the root pid
//! plus every descendant found by walking the ppid field of /proc/*/stat.

use serde_json::{json, Value};
use std::collections::HashMap;
use std::fs;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

const CLK_TCK: f64 = 100.0;

/// (ppid, utime+stime ticks, comm) of one process.
fn stat(pid: i32) -> Option<(i32, u64, String)> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = s.find('(')?;
    let close = s.rfind(')')?;
    let comm = s[open + 1..close].to_string();
    let f: Vec<&str> = s[close + 2..].split_whitespace().collect();
    // fields after ")": 0 state, 1 ppid, ..., 11 utime, 12 stime
    let ppid = f.get(1)?.parse().ok()?;
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some((ppid, ticks, comm))
}

/// Busy CPU seconds of the whole machine so far (all cores, from the first line of /proc/stat).
pub fn machine_busy_s() -> f64 {
    let Ok(s) = fs::read_to_string("/proc/stat") else { return 0.0 };
    let Some(line) = s.lines().next() else { return 0.0 };
    let v: Vec<u64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal
    let busy: u64 = v.iter().enumerate().filter(|(i, _)| *i != 3 && *i != 4 && *i < 8).map(|(_, x)| x).sum();
    busy as f64 / CLK_TCK
}

pub fn alive(pid: i32) -> bool {
    match stat(pid) {
        Some(_) => {
            // a zombie still has /proc/<pid>/stat; treat it as gone
            fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| s.rfind(')').map(|c| !s[c + 2..].starts_with('Z')).unwrap_or(false))
                .unwrap_or(false)
        }
        None => false,
    }
}

/// `root` and all its descendants.
pub fn tree(root: i32) -> Vec<i32> {
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    if let Ok(rd) = fs::read_dir("/proc") {
        for e in rd.flatten() {
            if let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) {
                if let Some((ppid, _, _)) = stat(pid) {
                    children.entry(ppid).or_default().push(pid);
                }
            }
        }
    }
    let mut out = Vec::new();
    if !alive(root) {
        return out;
    }
    let mut stack = vec![root];
    while let Some(p) = stack.pop() {
        out.push(p);
        if let Some(cs) = children.get(&p) {
            stack.extend(cs.iter().copied());
        }
    }
    out
}

/// A field of /proc/<pid>/status or smaps_rollup in kB ("VmRSS:", "Pss:").
fn kb_field(path: &str, field: &str) -> Option<u64> {
    let s = fs::read_to_string(path).ok()?;
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l[field.len()..].split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

pub struct TreeSample {
    pub rss_kib: u64,
    /// Anonymous (heap, stacks) part of the RSS; the rest is file-backed or shared memory.
    pub anon_kib: u64,
    pub pss_kib: u64,
    pub cpu_ticks: u64,
    pub procs: Vec<Value>,
}

pub fn sample(root: i32) -> TreeSample {
    let mut t = TreeSample { rss_kib: 0, anon_kib: 0, pss_kib: 0, cpu_ticks: 0, procs: Vec::new() };
    for pid in tree(root) {
        let rss = kb_field(&format!("/proc/{pid}/status"), "VmRSS:").unwrap_or(0);
        let anon = kb_field(&format!("/proc/{pid}/status"), "RssAnon:").unwrap_or(0);
        t.anon_kib += anon;
        let pss = kb_field(&format!("/proc/{pid}/smaps_rollup"), "Pss:").unwrap_or(0);
        let (ppid, ticks, comm) = stat(pid).unwrap_or((0, 0, String::new()));
        t.rss_kib += rss;
        t.pss_kib += pss;
        t.cpu_ticks += ticks;
        let cmd = fs::read(format!("/proc/{pid}/cmdline"))
            .map(|b| String::from_utf8_lossy(&b).replace('\0', " ").trim().chars().take(160).collect::<String>())
            .unwrap_or_default();
        t.procs.push(json!({"pid": pid, "ppid": ppid, "comm": comm, "rss_kib": rss, "rss_anon_kib": anon, "pss_kib": pss, "cmdline": cmd}));
    }
    t
}

fn mib(kib: u64) -> f64 {
    crate::stats::round3(kib as f64 / 1024.0)
}

pub fn sample_json(root: i32) -> Value {
    let s = sample(root);
    json!({
        "root_pid": root,
        "processes": s.procs.len(),
        "rss_mib": mib(s.rss_kib),
        "rss_anon_mib": mib(s.anon_kib),
        "pss_mib": mib(s.pss_kib),
        "cpu_s": crate::stats::round3(s.cpu_ticks as f64 / CLK_TCK),
        "per_process": s.procs,
    })
}

/// CPU of a process tree over a time span, counting processes that start (and, up to the
/// last sample, those that exit) in between: per pid, ticks at last sight minus ticks at first
/// sight (0 for a pid born after the start).
struct CpuAcc {
    root: i32,
    seen: HashMap<i32, (u64, u64)>,
}

impl CpuAcc {
    fn new(root: i32) -> CpuAcc {
        let mut a = CpuAcc { root, seen: HashMap::new() };
        for pid in tree(root) {
            if let Some((_, t, _)) = stat(pid) {
                a.seen.insert(pid, (t, t));
            }
        }
        a
    }
    fn update(&mut self) {
        for pid in tree(self.root) {
            if let Some((_, t, _)) = stat(pid) {
                let e = self.seen.entry(pid).or_insert((0, 0));
                e.1 = e.1.max(t);
            }
        }
    }
    fn seconds(&self) -> f64 {
        self.seen.values().map(|(a, b)| b.saturating_sub(*a)).sum::<u64>() as f64 / CLK_TCK
    }
}

/// Samples the server's process tree (and optionally the database's) in a background
/// thread while a benchmark runs: peak summed RSS and CPU seconds used during the window.
pub struct Watch {
    stop: Arc<AtomicBool>,
    /// (peak rss kib, server cpu, db cpu)
    state: Arc<Mutex<(u64, CpuAcc, Option<CpuAcc>)>>,
    handle: Option<thread::JoinHandle<()>>,
    root: i32,
    machine0: f64,
}

impl Watch {
    pub fn start(root: i32, db_pid: Option<i32>) -> Watch {
        let first = sample(root);
        let state = Arc::new(Mutex::new((first.rss_kib, CpuAcc::new(root), db_pid.map(CpuAcc::new))));
        let stop = Arc::new(AtomicBool::new(false));
        let (s2, st2) = (stop.clone(), state.clone());
        let handle = thread::spawn(move || {
            let mut i = 0u64;
            while !s2.load(Ordering::Relaxed) {
                thread::sleep(Duration::from_millis(250));
                i += 1;
                let rss = if i % 2 == 0 { Some(sample(root).rss_kib) } else { None };
                let mut g = st2.lock().unwrap();
                if let Some(r) = rss {
                    g.0 = g.0.max(r);
                }
                g.1.update();
                if let Some(d) = g.2.as_mut() {
                    d.update();
                }
            }
        });
        Watch { stop, state, handle: Some(handle), root, machine0: machine_busy_s() }
    }

    /// `client_cpu_s`: what the driver itself used, to tell how much CPU other processes took.
    pub fn finish(mut self, wall_s: f64, client_cpu_s: f64) -> Value {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        let last = sample(self.root);
        let mut g = self.state.lock().unwrap();
        g.1.update();
        if let Some(d) = g.2.as_mut() {
            d.update();
        }
        let peak = g.0.max(last.rss_kib);
        let cpu = g.1.seconds();
        let db_cpu = g.2.as_ref().map(|d| d.seconds());
        let machine = machine_busy_s() - self.machine0;
        json!({
            "root_pid": self.root,
            "processes": last.procs.len(),
            "peak_rss_mib": mib(peak),
            "end_rss_mib": mib(last.rss_kib),
            "cpu_s": crate::stats::round3(cpu),
            "cpu_cores_avg": if wall_s > 0.0 { crate::stats::round3(cpu / wall_s) } else { 0.0 },
            // PostgreSQL backends are not children of the server: the postmaster's tree.
            "db_cpu_s": db_cpu.map(crate::stats::round3),
            "machine_busy_s": crate::stats::round3(machine),
            // CPU used by neither the server, the database nor the driver (other jobs on the
            // machine): large values mean the measurement was disturbed.
            "other_cpu_s": crate::stats::round3((machine - cpu - client_cpu_s - db_cpu.unwrap_or(0.0)).max(0.0)),
        })
    }
}

/// Wait until the machine is quiet: busy share of all cores below `max_busy` (0..1) for
/// `need_s` consecutive seconds, or `timeout_s` passes. Returns (quiet?, seconds waited, last busy share).
/// CPU used by `exclude` (the idle server under test, whose own background work is its
/// business) is not counted.
pub fn wait_quiet(max_busy: f64, need_s: u32, timeout_s: f64, exclude: Option<i32>) -> (bool, f64, f64) {
    let cores = thread::available_parallelism().map(|n| n.get()).unwrap_or(1) as f64;
    let t0 = std::time::Instant::now();
    let mut streak = 0;
    loop {
        let own = || exclude.map(|p| sample(p).cpu_ticks as f64 / CLK_TCK).unwrap_or(0.0);
        let (b0, o0, t) = (machine_busy_s(), own(), std::time::Instant::now());
        thread::sleep(Duration::from_secs(1));
        let span = t.elapsed().as_secs_f64();
        // (a server process that exits takes its CPU time with it: never subtract less than 0)
        let last = ((machine_busy_s() - b0) - (own() - o0).max(0.0)).clamp(0.0, cores * span) / (cores * span);
        streak = if last <= max_busy { streak + 1 } else { 0 };
        if streak >= need_s {
            return (true, t0.elapsed().as_secs_f64(), last);
        }
        if t0.elapsed().as_secs_f64() >= timeout_s {
            return (false, t0.elapsed().as_secs_f64(), last);
        }
    }
}
