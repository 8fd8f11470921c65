//! Errors about the user's yaml: collected, then rendered rustc-style with annotate-snippets.

use std::fmt::Write as _;

use annotate_snippets::renderer::DecorStyle;
use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

/// How a diagnostic is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// rustc's ASCII look (`-->`, `|`), no color: logs, files, pipes.
    Plain,
    /// rustc's look with ANSI colors: a terminal.
    Color,
    /// Box-drawing decor (`╭▸`): inside rustc's own message, where the macro's error is shown,
    /// so that the yaml snippet stands apart from rustc's (and test harnesses keep the
    /// `file:line:col`).
    Nested,
}

use crate::source::{Sources, Span};

/// One problem in the input, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub message: String,
    /// The place to point at, with a short label.
    pub primary: Option<(Span, String)>,
    /// Other places worth showing.
    pub secondary: Vec<(Span, String)>,
    pub help: Option<String>,
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn error(message: impl Into<String>) -> Self {
        Diagnostic {
            message: message.into(),
            primary: None,
            secondary: Vec::new(),
            help: None,
            notes: Vec::new(),
        }
    }

    pub fn at(mut self, span: Span, label: impl Into<String>) -> Self {
        self.primary = Some((span, label.into()));
        self
    }

    pub fn also(mut self, span: Span, label: impl Into<String>) -> Self {
        self.secondary.push((span, label.into()));
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// `file:line:col` of the primary span, when there is one.
    pub fn location(&self, sources: &Sources) -> Option<String> {
        self.primary
            .as_ref()
            .map(|(span, _)| sources.location(*span))
    }

    /// The message followed by its location: one line, for `cargo::error=` and logs.
    pub fn one_line(&self, sources: &Sources) -> String {
        match self.location(sources) {
            Some(loc) => format!("{loc}: {}", self.message),
            None => self.message.clone(),
        }
    }

    /// rustc-style: `error: message`, `--> file:line:col`, the source line, a caret, help.
    pub fn render(&self, sources: &Sources, style: Style) -> String {
        let mut group = Group::with_title(Level::ERROR.primary_title(self.message.as_str()));
        // One snippet per file, primary file first: labels in agents.yaml get their own.
        let mut files = Vec::new();
        for (span, _) in self.primary.iter().chain(self.secondary.iter()) {
            if !files.contains(&span.file) {
                files.push(span.file);
            }
        }
        for file_id in files {
            let file = sources.get(file_id);
            let mut snippet = Snippet::source(file.text.as_str())
                .path(file.name.as_str())
                .fold(true);
            if let Some((span, label)) = &self.primary
                && span.file == file_id
            {
                snippet = snippet.annotation(
                    AnnotationKind::Primary
                        .span(clamp(span, file.text.len()))
                        .label(label.as_str()),
                );
            }
            for (span, label) in self.secondary.iter().filter(|(s, _)| s.file == file_id) {
                snippet = snippet.annotation(
                    AnnotationKind::Context
                        .span(clamp(span, file.text.len()))
                        .label(label.as_str()),
                );
            }
            group = group.element(snippet);
        }
        for note in &self.notes {
            group = group.element(Level::NOTE.message(note.as_str()));
        }
        if let Some(help) = &self.help {
            group = group.element(Level::HELP.message(help.as_str()));
        }
        let renderer = match style {
            Style::Plain => Renderer::plain(),
            Style::Color => Renderer::styled(),
            Style::Nested => Renderer::plain().decor_style(DecorStyle::Unicode),
        };
        renderer.render(&[group])
    }
}

fn clamp(span: &Span, len: usize) -> std::ops::Range<usize> {
    let start = span.start.min(len);
    start..span.end.clamp(start, len)
}

/// Every error found in one generation (serde_derive's `Ctxt`: collect all, then fail).
#[derive(Debug, Clone, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }

    /// Ok when nothing was reported.
    pub fn check(self) -> Result<(), Vec<Diagnostic>> {
        if self.items.is_empty() {
            Ok(())
        } else {
            Err(self.items)
        }
    }

    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.items
    }
}

/// All diagnostics rendered one after the other, plus a count line, like rustc.
pub fn render_all(diagnostics: &[Diagnostic], sources: &Sources, style: Style) -> String {
    let mut out = String::new();
    for d in diagnostics {
        out.push_str(&d.render(sources, style));
        out.push_str("\n\n");
    }
    let n = diagnostics.len();
    let _ = write!(
        out,
        "error: could not generate tasks: {n} error{} found",
        if n == 1 { "" } else { "s" }
    );
    out
}
