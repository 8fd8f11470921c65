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

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The file cannot be generated: nothing is generated.
    Error,
    /// The file is generated, but something in it is likely a mistake (or is ignored, as
    /// CrewAI ignores it). A `strict` setting will make these errors.
    Warning,
}

/// One problem in the input, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Whether generation stops.
    pub severity: Severity,
    /// What is wrong, in one sentence.
    pub message: String,
    /// The place to point at, with a short label.
    pub primary: Option<(Span, String)>,
    /// Other places worth showing.
    pub secondary: Vec<(Span, String)>,
    /// What to do about it.
    pub help: Option<String>,
    /// Further context.
    pub notes: Vec<String>,
}

impl Diagnostic {
    /// An error: nothing is generated.
    pub fn error(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            primary: None,
            secondary: Vec::new(),
            help: None,
            notes: Vec::new(),
        }
    }

    /// A warning: reported, and the file is still generated.
    pub fn warning(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(message)
        }
    }

    /// The warning as an error, for the `strict` setting.
    pub fn into_strict_error(mut self) -> Self {
        self.severity = Severity::Error;
        self.note("an error because of the `strict` setting (warnings are errors)")
    }

    /// Whether it is an error (not a warning).
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Points at `span` with a short label.
    pub fn at(mut self, span: Span, label: impl Into<String>) -> Self {
        self.primary = Some((span, label.into()));
        self
    }

    /// Also shows `span`, with a label.
    pub fn also(mut self, span: Span, label: impl Into<String>) -> Self {
        self.secondary.push((span, label.into()));
        self
    }

    /// Adds a help line.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds a note.
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

    /// rustc-style: `error: message` (or `warning: ...`), `--> file:line:col`, the source
    /// line, a caret, help.
    pub fn render(&self, sources: &Sources, style: Style) -> String {
        let level = match self.severity {
            Severity::Error => Level::ERROR,
            Severity::Warning => Level::WARNING,
        };
        let mut group = Group::with_title(level.primary_title(self.message.as_str()));
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
    /// Reports a diagnostic; the pass goes on.
    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }

    /// Whether nothing was reported.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Whether an error was reported (warnings alone let a pass go on to its result).
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }

    /// How many were reported.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// The diagnostics so far.
    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }

    /// The warnings when no error was reported; otherwise every diagnostic, errors and
    /// warnings, in the order found.
    pub fn check(self) -> Result<Vec<Diagnostic>, Vec<Diagnostic>> {
        if self.items.iter().any(Diagnostic::is_error) {
            Err(self.items)
        } else {
            Ok(self.items)
        }
    }

    /// Every diagnostic, in the order reported.
    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.items
    }
}

/// All diagnostics rendered one after the other, plus a count line, like rustc (when there is
/// an error: warnings alone have no count line).
pub fn render_all(diagnostics: &[Diagnostic], sources: &Sources, style: Style) -> String {
    let mut out = String::new();
    for d in diagnostics {
        out.push_str(&d.render(sources, style));
        out.push_str("\n\n");
    }
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    if errors == 0 {
        return out.trim_end().to_owned();
    }
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let _ = write!(
        out,
        "error: could not generate tasks: {errors} error{} found",
        plural(errors)
    );
    if warnings > 0 {
        let _ = write!(out, " (and {warnings} warning{})", plural(warnings));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceFile;

    #[test]
    fn warnings_are_reported_and_do_not_fail_a_check() {
        let mut sources = Sources::default();
        let file = sources.add(SourceFile::new("tasks.yaml", "a:\n  colour: red\n"));
        let span = Span::new(file, 5..11);
        let mut diags = Diagnostics::default();
        diags.push(Diagnostic::warning("unknown key `colour`").at(span, "CrewAI ignores it"));
        let warnings = diags.clone().check().expect("a warning alone passes");
        assert_eq!(warnings.len(), 1);
        let text = render_all(&warnings, &sources, Style::Plain);
        assert!(text.starts_with("warning: unknown key `colour`"), "{text}");
        assert!(text.contains("tasks.yaml:2:3"), "{text}");
        assert!(!text.contains("could not generate"), "{text}");
        diags.push(Diagnostic::error("bad"));
        let all = diags.check().expect_err("an error fails");
        let text = render_all(&all, &sources, Style::Plain);
        assert!(
            text.ends_with("could not generate tasks: 1 error found (and 1 warning)"),
            "{text}"
        );
    }
}
