//! One progress line per task (spinner, name, elapsed time) when stderr is a terminal.

use std::io::IsTerminal;
use std::sync::OnceLock;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::Registry;

pub(crate) struct Progress {
    bars: Option<Bars>,
}

struct Bars {
    multi: MultiProgress,
    names: Vec<&'static str>,
    lines: Vec<OnceLock<ProgressBar>>,
    width: usize,
}

impl Progress {
    pub(crate) fn new<S>(enabled: bool, registry: &Registry<S>, _count: usize) -> Self {
        if !enabled || !std::io::stderr().is_terminal() {
            return Progress { bars: None };
        }
        let names: Vec<&'static str> = registry.tasks.iter().map(|t| t.name).collect();
        let width = names.iter().map(|n| n.len()).max().unwrap_or(0);
        Progress {
            bars: Some(Bars {
                multi: MultiProgress::new(),
                lines: names.iter().map(|_| OnceLock::new()).collect(),
                names,
                width,
            }),
        }
    }

    fn line(&self, task: usize) -> Option<&ProgressBar> {
        let bars = self.bars.as_ref()?;
        Some(bars.lines[task].get_or_init(|| {
            let style = ProgressStyle::with_template(&format!(
                "{{spinner}} {{prefix:<{}}} {{elapsed:>4}} {{msg}}",
                bars.width
            ))
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
            let bar = bars.multi.add(ProgressBar::new_spinner());
            bar.set_style(style);
            bar.set_prefix(bars.names[task]);
            bar
        }))
    }

    pub(crate) fn started(&self, task: usize) {
        if let Some(bar) = self.line(task) {
            bar.set_message("running");
            bar.enable_steady_tick(Duration::from_millis(100));
        }
    }

    pub(crate) fn finished(&self, task: usize, error: Option<&str>) {
        if let Some(bar) = self.line(task) {
            match error {
                None => bar.finish_with_message("done"),
                Some(e) => bar.finish_with_message(format!("FAILED: {e}")),
            }
        }
    }

    pub(crate) fn skipped(&self, task: usize) {
        if let Some(bar) = self.line(task) {
            bar.finish_with_message("skipped (an upstream task failed)");
        }
    }
}
