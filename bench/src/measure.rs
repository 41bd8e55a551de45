//! What every bench measures and how it reports it: peak RSS and CPU of a process, machine
//! cores busy over a window, rows of a result table, medians, and alternating pairs of runs.

use std::time::Duration;

/// Peak resident set size (VmHWM) of a running process, in MiB.
pub fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// CPU time (user + system) a running process has used so far, in seconds (clock ticks of 10 ms).
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// CPU time the whole machine has spent busy so far (all cores; not idle, not waiting on I/O), in seconds.
fn machine_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let ticks: Vec<f64> = stat.lines().next()?.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    let idle = ticks.get(3)? + ticks.get(4)?;
    Some((ticks.iter().sum::<f64>() - idle) / 100.0)
}

/// The CPU a process (and the whole machine) spends over a measured window: started when the
/// window opens, read (while the process still runs) when it closes.
pub struct CpuMeter {
    pid: u32,
    process: Option<f64>,
    machine: Option<f64>,
}

impl CpuMeter {
    pub fn start(pid: u32) -> CpuMeter {
        CpuMeter { pid, process: cpu_seconds(pid), machine: machine_cpu_seconds() }
    }

    /// The CPU spent since [`CpuMeter::start`], for a window of `elapsed`; `None` if the
    /// process is gone.
    pub fn read(&self, elapsed: Duration) -> Option<CpuUse> {
        let process = cpu_seconds(self.pid).zip(self.process).map(|(end, start)| end - start)?;
        let machine = machine_cpu_seconds().zip(self.machine).map(|(end, start)| end - start);
        Some(CpuUse { process, machine, window: elapsed })
    }
}

/// CPU seconds a process and the whole machine spent over a window.
#[derive(Clone, Copy, Debug)]
pub struct CpuUse {
    pub process: f64,
    pub machine: Option<f64>,
    pub window: Duration,
}

impl CpuUse {
    pub fn us_per_record(&self, records: u64) -> f64 {
        self.process * 1e6 / records.max(1) as f64
    }
    /// Cores the process kept busy on average over the window.
    pub fn cores(&self) -> f64 {
        self.process / self.window.as_secs_f64().max(1e-9)
    }
    /// Cores the whole machine (every process) kept busy on average over the window.
    pub fn machine_cores(&self) -> Option<f64> {
        self.machine.map(|m| m / self.window.as_secs_f64().max(1e-9))
    }
}

/// One row of a result table: `records` (and their `bytes`) handled in `elapsed`.
#[derive(Clone, Debug)]
pub struct Row {
    pub name: String,
    pub records: u64,
    pub bytes: u64,
    pub elapsed: Duration,
    pub peak_rss_mib: Option<f64>,
    /// The CPU of the measured process over the row's window (the worker's, or this bench
    /// process's for an in-process baseline).
    pub cpu: Option<CpuUse>,
}

impl Row {
    pub fn new(name: impl Into<String>, records: u64, bytes: u64, elapsed: Duration) -> Row {
        Row { name: name.into(), records, bytes, elapsed, peak_rss_mib: None, cpu: None }
    }
    pub fn rss(mut self, peak_rss_mib: Option<f64>) -> Row {
        self.peak_rss_mib = peak_rss_mib;
        self
    }
    pub fn cpu(mut self, cpu: Option<CpuUse>) -> Row {
        self.cpu = cpu;
        self
    }
    pub fn records_per_sec(&self) -> f64 {
        self.records as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
    pub fn mib_per_sec(&self) -> f64 {
        self.bytes as f64 / 1_048_576.0 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Prints a table: a title, a header and rows of cells, the first column left-aligned and the
/// others right-aligned, each as wide as its widest cell.
pub fn print_text_table(title: &str, header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let text: Vec<String> = cells
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| {
                let pad = " ".repeat(w.saturating_sub(c.chars().count()));
                if i == 0 { format!("{c}{pad}") } else { format!("{pad}{c}") }
            })
            .collect();
        println!("{}", text.join("  ").trim_end());
    };
    println!("\n{title}");
    line(&mut header.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
}

/// Prints rows as the result table; each row's ratio (of records/s) is against the row
/// `baseline_of` gives (its index in `rows`), "baseline" where it gives none. CPU per record
/// and cores busy are the measured process's (worker, or this process for in-process rows);
/// the machine's cores busy are every process's, the services' included.
pub fn print_table(title: &str, rows: &[Row], baseline_of: impl Fn(usize) -> Option<usize>) {
    let dash = || "-".to_string();
    let cells: Vec<Vec<String>> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let ratio = baseline_of(i).and_then(|b| rows.get(b)).map(|b| r.records_per_sec() / b.records_per_sec());
            vec![
                r.name.clone(),
                r.records.to_string(),
                format!("{:.0}", r.records_per_sec()),
                format!("{:.1}", r.mib_per_sec()),
                r.peak_rss_mib.map_or_else(dash, |m| format!("{m:.0} MiB")),
                r.cpu.map_or_else(dash, |c| format!("{:.2} µs", c.us_per_record(r.records))),
                r.cpu.map_or_else(dash, |c| format!("{:.2} / {}", c.cores(), c.machine_cores().map_or_else(dash, |m| format!("{m:.2}")))),
                ratio.map_or_else(|| "baseline".into(), |x| format!("{x:.2}")),
            ]
        })
        .collect();
    print_text_table(title, &["pipeline", "records", "records/s", "MiB/s", "peak RSS", "CPU/record", "cores: own / machine", "ratio"], &cells);
}

/// The median of `xs` (0 when empty).
pub fn median(xs: &[f64]) -> f64 {
    let mut xs = xs.to_vec();
    xs.sort_by(f64::total_cmp);
    let mid = xs.len() / 2;
    match xs.len() {
        0 => 0.0,
        n if n.is_multiple_of(2) => (xs[mid - 1] + xs[mid]) / 2.0,
        _ => xs[mid],
    }
}

/// Runs pair number `pair` (from 1) of a baseline and a candidate back to back: odd pairs run
/// the baseline first, even pairs the candidate, so that a machine getting slower (or faster)
/// during a bench favours neither. Returns (baseline, candidate).
pub fn run_pair<E>(pair: usize, baseline: impl FnOnce() -> Result<Row, E>, candidate: impl FnOnce() -> Result<Row, E>) -> Result<(Row, Row), E> {
    if pair % 2 == 1 {
        let b = baseline()?;
        Ok((b, candidate()?))
    } else {
        let c = candidate()?;
        Ok((baseline()?, c))
    }
}

/// Alternating pairs of runs of one comparison, and their medians. One run on shared cores
/// swings a lot; a pair run back to back sees about the same machine, so the median of the
/// pairs' ratios is the number to quote.
pub struct Pairs {
    pub what: String,
    pub baseline_label: String,
    pub candidate_label: String,
    pub pairs: Vec<(Row, Row)>,
}

impl Pairs {
    pub fn new(what: impl Into<String>, baseline_label: impl Into<String>, candidate_label: impl Into<String>) -> Pairs {
        Pairs { what: what.into(), baseline_label: baseline_label.into(), candidate_label: candidate_label.into(), pairs: Vec::new() }
    }

    /// Runs pair number `pair` (see [`run_pair`]) and keeps it.
    pub fn run<E>(&mut self, pair: usize, baseline: impl FnOnce() -> Result<Row, E>, candidate: impl FnOnce() -> Result<Row, E>) -> Result<(), E> {
        let p = run_pair(pair, baseline, candidate)?;
        self.pairs.push(p);
        Ok(())
    }

    /// Candidate records/s over baseline records/s, per pair.
    pub fn ratios(&self) -> Vec<f64> {
        self.pairs.iter().map(|(b, c)| c.records_per_sec() / b.records_per_sec()).collect()
    }
    pub fn median_ratio(&self) -> f64 {
        median(&self.ratios())
    }
    /// Median records/s of the baseline runs and of the candidate runs.
    pub fn median_records_per_sec(&self) -> (f64, f64) {
        let (b, c): (Vec<f64>, Vec<f64>) = self.pairs.iter().map(|(b, c)| (b.records_per_sec(), c.records_per_sec())).unzip();
        (median(&b), median(&c))
    }

    /// Every run, baseline then candidate of each pair (for [`print_table`], the candidate's
    /// ratio against the row before it).
    pub fn rows(&self) -> impl Iterator<Item = &Row> {
        self.pairs.iter().flat_map(|(b, c)| [b, c])
    }

    /// One line: what is compared, the median ratio, the single pairs' ratios and the median
    /// records/s of each side.
    pub fn summary(&self) -> String {
        let each: Vec<String> = self.ratios().iter().map(|r| format!("{r:.2}")).collect();
        let (b, c) = self.median_records_per_sec();
        format!(
            "{} ({} / {}), median of {} pairs: {:.2} (pairs: {}; median records/s {:.0} / {:.0})",
            self.what,
            self.candidate_label,
            self.baseline_label,
            self.pairs.len(),
            self.median_ratio(),
            each.join(", "),
            c,
            b
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
    }

    #[test]
    fn pairs_alternate_which_runs_first() {
        let order = std::cell::RefCell::new(Vec::new());
        let mut pairs = Pairs::new("t", "b", "c");
        for pair in 1..=2 {
            pairs
                .run(
                    pair,
                    || -> Result<Row, ()> {
                        order.borrow_mut().push("b");
                        Ok(Row::new("b", 100, 0, Duration::from_secs(1)))
                    },
                    || {
                        order.borrow_mut().push("c");
                        Ok(Row::new("c", 50, 0, Duration::from_secs(1)))
                    },
                )
                .unwrap();
        }
        assert_eq!(*order.borrow(), ["b", "c", "c", "b"]);
        assert_eq!(pairs.median_ratio(), 0.5);
        assert_eq!(pairs.rows().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["b", "c", "b", "c"]);
    }
}
