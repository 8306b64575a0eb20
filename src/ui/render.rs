//! Drawing the UI from its state. Pure: state in, cells out, so the
//! layout is tested with ratatui's TestBackend.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget, Wrap};
use ratatui::Frame;

use super::app::{label_name, App, Mode, Panel, Prompt, FRAMES_PER_S, KEYS};

/// Below this the full layout does not fit; the spectrogram and status
/// line are drawn alone.
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;
/// Mel frames (10 ms each) per spectrogram column: 0.1 s.
const FRAMES_PER_COLUMN: usize = 10;
/// Dynamic range shown, below the loudest visible bin.
const RANGE_DB: f32 = 70.0;

pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    let [main, status] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(area);
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        spectrogram(frame, main, app, true);
        status_line(frame, status, app);
    } else {
        let predictions_height = if area.height >= 40 { 10 } else { 7 };
        let [top, bottom] = Layout::vertical([Constraint::Min(10), Constraint::Length(predictions_height)]).areas(main);
        let chain_width = if area.width >= 160 { 48 } else { 32 };
        let [left, right] = Layout::horizontal([Constraint::Min(40), Constraint::Length(chain_width)]).areas(top);
        let wave_height = if area.height >= 40 { 8 } else { 5 };
        let [spec, wave] = Layout::vertical([Constraint::Min(4), Constraint::Length(wave_height)]).areas(left);
        spectrogram(frame, spec, app, false);
        waveform(frame, wave, app);
        chain(frame, right, app);
        predictions(frame, bottom, app);
        status_line(frame, status, app);
    }
    if app.show_help {
        help(frame, area, app);
    } else if let Some(Prompt::Location(text)) = &app.prompt {
        popup(frame, area, app, "Chest location", &[format!("{text}_"), "Enter: set   Esc: cancel".into()]);
    } else if app.confirm_quit && app.recording() {
        popup(
            frame,
            area,
            app,
            "Recording in progress",
            &["q: stop, save and quit".into(), "any other key: keep recording".into()],
        );
    }
}

fn block<'a>(title: String, app: &App, focused: bool) -> Block<'a> {
    let theme = &app.theme;
    let (border, title_style) = if focused {
        (Style::default().fg(theme.focus), Style::default().fg(theme.focus).add_modifier(Modifier::BOLD))
    } else {
        (Style::default().fg(theme.border), Style::default().fg(theme.text))
    };
    Block::default().borders(Borders::ALL).border_style(border).title(Span::styled(title, title_style))
}

fn spectrogram(frame: &mut Frame, area: Rect, app: &App, compact: bool) {
    let mut title = format!(" Spectrogram · mel {} · {} Hz ", app.n_mels, app.source.sample_rate);
    if app.paused {
        title.push_str("· PAUSED ");
    }
    if compact {
        title = format!(" {}×{} is below 80×24: spectrogram only ", frame.area().width, frame.area().height);
    }
    let block = block(title, app, app.focus == Panel::Spectrogram);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    frame.render_widget(SpectrogramCells { app }, inner);
}

/// The scrolling mel spectrogram: newest column on the right, high
/// frequencies at the top.
struct SpectrogramCells<'a> {
    app: &'a App,
}

impl Widget for SpectrogramCells<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let app = self.app;
        let (w, h) = (area.width as usize, area.height as usize);
        if w == 0 || h == 0 || app.n_mels == 0 {
            return;
        }
        let frames = app.mel.len();
        let columns = (frames / FRAMES_PER_COLUMN).min(w);
        // Loudest bin in view sets the top of the range.
        let first = frames - columns * FRAMES_PER_COLUMN;
        let top = app.mel.range(first..).flat_map(|f| f.iter().copied()).fold(f32::MIN, f32::max);
        if columns == 0 || !top.is_finite() {
            return;
        }
        let floor = top - RANGE_DB;
        for c in 0..columns {
            let x = area.x + (w - columns + c) as u16;
            let start = first + c * FRAMES_PER_COLUMN;
            for row in 0..h {
                // Row 0 is the top: the highest mel bands.
                let lo = (h - 1 - row) * app.n_mels / h;
                let hi = ((h - row) * app.n_mels / h).max(lo + 1);
                let mut peak = f32::MIN;
                for f in start..start + FRAMES_PER_COLUMN {
                    for &v in &app.mel[f][lo..hi] {
                        peak = peak.max(v);
                    }
                }
                let (ch, color) = app.theme.level((peak - floor) / RANGE_DB);
                let cell = &mut buf[(x, area.y + row as u16)];
                cell.set_char(ch);
                if app.theme.has_color() {
                    cell.set_fg(color);
                }
            }
        }
    }
}

fn waveform(frame: &mut Frame, area: Rect, app: &App) {
    let noun = if app.mode == Mode::Heart { "beats" } else { "cycles" };
    let block = block(format!(" Envelope · {noun} │ "), app, false);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let (w, h) = (inner.width as usize, inner.height as usize);
    if w == 0 || h == 0 {
        return;
    }
    let per_col = FRAMES_PER_COLUMN;
    let columns = (app.envelope.len() / per_col).min(w);
    let first = app.envelope.len() - columns * per_col;
    let peaks: Vec<f32> = (0..columns)
        .map(|c| app.envelope.range(first + c * per_col..first + (c + 1) * per_col).fold(0.0f32, |a, &b| a.max(b)))
        .collect();
    let top = peaks.iter().fold(1e-6f32, |a, &b| a.max(b));
    const EIGHTHS: [char; 9] = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let buf = frame.buffer_mut();
    let style = Style::default().fg(app.theme.accent);
    for (c, &p) in peaks.iter().enumerate() {
        let x = inner.x + (w - columns + c) as u16;
        let eighths = ((p / top) * (h * 8) as f32).round() as usize;
        for row in 0..h {
            let from_bottom = h - 1 - row;
            let fill = eighths.saturating_sub(from_bottom * 8).min(8);
            let cell = &mut buf[(x, inner.y + row as u16)];
            cell.set_char(EIGHTHS[fill]);
            if app.theme.has_color() {
                cell.set_style(style);
            }
        }
    }
    // Markers where cycles start (or S1 in heart mode).
    let view_start_s = app.now_s - (columns * per_col) as f64 / FRAMES_PER_S;
    for cycle in &app.cycles {
        let t = cycle.start_s - view_start_s;
        if t < 0.0 {
            continue;
        }
        let c = (t * FRAMES_PER_S / per_col as f64) as usize;
        if c >= columns {
            continue;
        }
        let x = inner.x + (w - columns + c) as u16;
        for row in 0..h {
            let cell = &mut buf[(x, inner.y + row as u16)];
            cell.set_char('│');
            if app.theme.has_color() {
                cell.set_fg(app.theme.cycle);
            }
        }
    }
}

fn chain(frame: &mut Frame, area: Rect, app: &App) {
    let focused = app.focus == Panel::Chain;
    let block = block(" Chain ".into(), app, focused);
    let theme = &app.theme;
    let mut lines: Vec<Line> = Vec::new();
    if app.chain.is_empty() {
        lines.push(Line::styled("(empty chain: raw input)", Style::default().fg(theme.dim)));
    }
    for (i, slot) in app.chain.iter().enumerate() {
        let selected = focused && i == app.selected_slot;
        let marker = if selected { "▶ " } else { "  " };
        let (state, state_style) = match (&slot.fault, slot.bypassed) {
            (Some(_), _) => ("FAULT", Style::default().fg(theme.fault).add_modifier(Modifier::BOLD)),
            (None, true) => ("bypassed", Style::default().fg(theme.dim)),
            (None, false) => ("on", Style::default().fg(theme.cycle)),
        };
        let name_style = if selected { Style::default().add_modifier(Modifier::REVERSED) } else { Style::default() };
        lines.push(Line::from(vec![
            Span::raw(marker),
            Span::styled(format!("{:<10}", slot.name), name_style.fg(theme.text)),
            Span::raw(" "),
            Span::styled(state, state_style),
        ]));
        lines.push(Line::styled(
            format!(
                "    lat {} smp · cpu {:.3}%{}{}",
                slot.latency,
                slot.load * 100.0,
                if slot.late_blocks > 0 { format!(" · late {}", slot.late_blocks) } else { String::new() },
                if slot.restarts > 0 { format!(" · restarted {}", slot.restarts) } else { String::new() },
            ),
            Style::default().fg(theme.dim),
        ));
        if let Some(fault) = &slot.fault {
            lines.push(Line::styled(format!("    {fault}"), Style::default().fg(theme.fault)));
        }
        if selected {
            for (k, p) in slot.params.iter().enumerate() {
                let style = if k == app.selected_param {
                    Style::default().fg(theme.focus).add_modifier(Modifier::BOLD)
                } else {
                    Style::default().fg(theme.text)
                };
                let unit = if p.unit.is_empty() { String::new() } else { format!(" {}", p.unit) };
                lines.push(Line::styled(format!("    {} = {}{unit}", p.name, fmt_value(p.value)), style));
            }
        }
    }
    frame.render_widget(Paragraph::new(lines).block(block).wrap(Wrap { trim: false }), area);
}

fn fmt_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e6 {
        format!("{v:.0}")
    } else if v.abs() >= 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

fn predictions(frame: &mut Frame, area: Rect, app: &App) {
    let block = block(" Predictions ".into(), app, app.focus == Panel::Predictions);
    let theme = &app.theme;
    let mut lines = Vec::new();
    // The latest verdict, one bar per class.
    let latest = app.cycles.iter().rev().find_map(|c| c.probabilities.as_ref().map(|p| (c, p)));
    match (&app.model, latest) {
        (None, _) => lines.push(Line::styled("no model loaded (--model NAME): cycles and labels only", Style::default().fg(theme.dim))),
        (Some(model), None) => lines.push(Line::styled(format!("model {model}: waiting for the first cycle…"), Style::default().fg(theme.dim))),
        (Some(_), Some((cycle, probs))) => {
            let mut spans = vec![Span::styled(format!("{:.1}–{:.1} s ", cycle.start_s, cycle.end_s), Style::default().fg(theme.dim))];
            let best = crate::metrics::argmax(probs);
            for (k, (class, &p)) in app.model_classes.iter().zip(probs.iter()).enumerate() {
                let style = if k == best { Style::default().fg(theme.focus).add_modifier(Modifier::BOLD) } else { Style::default().fg(theme.text) };
                spans.push(Span::styled(format!("{class} {} {:>3.0}%  ", bar(p, 6), p * 100.0), style));
            }
            lines.push(Line::from(spans));
        }
    }
    let rows = area.height.saturating_sub(3) as usize;
    let total = app.cycles.len();
    for (i, c) in app.cycles.iter().enumerate().rev().take(rows) {
        let verdict = c.probabilities.as_ref().map_or(String::new(), |p| {
            let best = crate::metrics::argmax(p);
            format!("   model: {} {:.2}", app.model_classes.get(best).map_or("?", |s| s.as_str()), p[best])
        });
        let text = match (app.mode, c.bpm) {
            (Mode::Heart, Some(bpm)) => format!("beat {:>4}  S1 at {:>7.2} s   {bpm:>5.0} bpm{verdict}", i + 1, c.start_s),
            (Mode::Heart, None) => format!("window {:>13}{verdict}", format!("{:.2}–{:.2} s", c.start_s, c.end_s)),
            _ => format!(
                "cycle {:>3}  {:>17}  {:>4.1} s   label: {}{verdict}",
                i + 1,
                format!("{:.2}–{:.2} s", c.start_s, c.end_s),
                c.end_s - c.start_s,
                c.label.map_or("—", label_name)
            ),
        };
        let style = if i + 1 == total { Style::default().fg(theme.text).add_modifier(Modifier::BOLD) } else { Style::default().fg(theme.text) };
        lines.push(Line::styled(text, style));
    }
    if total == 0 {
        lines.push(Line::styled("waiting for the first cycle…", Style::default().fg(theme.dim)));
    }
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// A probability as a bar of `width` cells, in eighths.
fn bar(p: f32, width: usize) -> String {
    const EIGHTHS: [char; 9] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉', '█'];
    let eighths = (p.clamp(0.0, 1.0) * (width * 8) as f32).round() as usize;
    (0..width).map(|i| EIGHTHS[eighths.saturating_sub(i * 8).min(8)]).collect()
}

fn status_line(frame: &mut Frame, area: Rect, app: &App) {
    let theme = &app.theme;
    let name = std::path::Path::new(&app.source.name)
        .file_name()
        .map_or(app.source.name.clone(), |n| n.to_string_lossy().into_owned());
    let mut spans = vec![
        Span::styled(if app.paused { "‖ " } else { "▶ " }, Style::default().fg(theme.accent)),
        Span::styled(format!("{} {}", app.source.kind.as_str(), name), Style::default().fg(theme.text)),
        Span::styled(
            format!(" │ {} Hz │ {:.1} s │ overruns {}", app.source.sample_rate, app.status.seconds, app.status.overruns),
            Style::default().fg(theme.dim),
        ),
    ];
    if let Some(state) = &app.status.source_state {
        spans.push(Span::styled(format!(" │ {state}"), Style::default().fg(theme.fault)));
    }
    if app.status.skipped > 0 {
        // Analysis fell behind; the recording did not.
        let secs = app.status.skipped as f64 / f64::from(app.source.sample_rate.max(1));
        spans.push(Span::styled(format!(" │ behind: {secs:.1} s unanalysed"), Style::default().fg(theme.fault)));
    }
    if app.recording() {
        let secs = app.status.recording.unwrap_or(0.0) as u64;
        spans.push(Span::styled(
            format!(" │ ● REC {:02}:{:02}", secs / 60, secs % 60),
            Style::default().fg(theme.recording).add_modifier(Modifier::BOLD),
        ));
    }
    if let Some(location) = &app.location {
        spans.push(Span::styled(format!(" │ {location}"), Style::default().fg(theme.text)));
    }
    if let Some(model) = &app.model {
        spans.push(Span::styled(format!(" │ model: {model}"), Style::default().fg(theme.dim)));
    }
    let message = app
        .message
        .as_ref()
        .filter(|(_, at)| at.elapsed().as_secs() < 6)
        .map(|(m, _)| m.clone())
        .or_else(|| app.notice.clone());
    if let Some(message) = message {
        spans.push(Span::styled(format!(" │ {message}"), Style::default().fg(theme.focus)));
    }
    // "? help" keeps its place at the right edge however long the rest is.
    let [left, right] = Layout::horizontal([Constraint::Min(1), Constraint::Length(8)]).areas(area);
    frame.render_widget(Paragraph::new(Line::from(spans)), left);
    frame.render_widget(Paragraph::new(Span::styled(" ? help ", Style::default().fg(theme.focus))).right_aligned(), right);
}

fn help(frame: &mut Frame, area: Rect, app: &App) {
    let lines: Vec<String> = KEYS
        .iter()
        .map(|(k, what)| if k.is_empty() { what.to_string() } else { format!("{k:<16} {what}") })
        .chain(std::iter::once(String::new()))
        .chain(std::iter::once("any key closes this help".to_string()))
        .collect();
    popup(frame, area, app, "Keys", &lines);
}

fn popup(frame: &mut Frame, area: Rect, app: &App, title: &str, lines: &[String]) {
    let width = (lines.iter().map(|l| l.chars().count()).max().unwrap_or(10) as u16 + 4).min(area.width);
    let height = (lines.len() as u16 + 2).min(area.height);
    let x = area.x + (area.width - width) / 2;
    let y = area.y + (area.height - height) / 2;
    let rect = Rect { x, y, width, height };
    frame.render_widget(Clear, rect);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(Style::default().fg(app.theme.focus))
        .title(Span::styled(format!(" {title} "), Style::default().fg(app.theme.focus).add_modifier(Modifier::BOLD)));
    let text: Vec<Line> = lines.iter().map(|l| Line::styled(l.clone(), Style::default().fg(app.theme.text))).collect();
    frame.render_widget(Paragraph::new(text).block(block), rect);
}

/// True if any cell uses a colour (for the monochrome check).
pub fn uses_color(buf: &Buffer) -> bool {
    buf.content().iter().any(|c| c.fg != Color::Reset || c.bg != Color::Reset || c.underline_color != Color::Reset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{ParamView, SlotView, Update};
    use crate::audio::{SourceInfo, SourceKind};
    use crate::ui::theme::{ColorDepth, Theme};
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    fn app(theme: &str) -> App {
        let info = SourceInfo {
            kind: SourceKind::Replay,
            name: "samples/kauh-EP109-normal.wav".into(),
            sample_rate: 4000,
            channels: 1,
            format: String::new(),
        };
        let mut app = App::new(info, Theme::load(theme, ColorDepth::TrueColor).unwrap(), Mode::Lung, 16, "out".into());
        // Ten seconds of a rising tone in the mel bands, an envelope, cycles.
        let frames: Vec<f32> = (0..1000).flat_map(|t| (0..16).map(move |m| -80.0 + (m * 4 + t % 50) as f32)).collect();
        app.apply(Update::Mel(frames));
        app.apply(Update::Envelope((0..1000).map(|i| (i as f32 * 0.02).sin().abs()).collect()));
        app.apply(Update::Cycle { start_s: 2.0, end_s: 5.5 });
        app.apply(Update::Cycle { start_s: 5.5, end_s: 9.0 });
        app.apply(Update::Chain(vec![SlotView {
            name: "bandpass".into(),
            bypassed: false,
            fault: None,
            latency: 0,
            load: 0.0001,
            late_blocks: 0,
            restarts: 0,
            params: vec![ParamView {
                id: 0,
                name: "low_hz".into(),
                unit: "Hz".into(),
                value: 100.0,
                min: 10.0,
                max: 1000.0,
                scale: auscult_plugin_api::ParamScale::Log,
            }],
        }]));
        app
    }

    fn render(app: &App, w: u16, h: u16) -> Buffer {
        let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
        terminal.draw(|f| draw(f, app)).unwrap();
        terminal.backend().buffer().clone()
    }

    fn text(buf: &Buffer) -> String {
        let area = buf.area;
        (0..area.height)
            .map(|y| (0..area.width).map(|x| buf[(x, y)].symbol().to_string()).collect::<String>())
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn the_layout_at_80x24_has_every_panel() {
        let screen = text(&render(&app("default"), 80, 24));
        for needle in ["Spectrogram", "Envelope", "Chain", "bandpass", "Predictions", "cycle   2", "replay kauh-EP109-normal.wav", "? help"] {
            assert!(screen.contains(needle), "missing {needle:?} in\n{screen}");
        }
        assert!(screen.contains('@'), "the loudest cells use the top of the ramp\n{screen}");
    }

    #[test]
    fn the_layout_at_200x60_uses_the_room() {
        let mut app = app("default");
        app.focus = Panel::Chain;
        let buf = render(&app, 200, 60);
        let screen = text(&buf);
        assert!(screen.contains("low_hz = 100 Hz"), "selected plugin shows its parameters\n{screen}");
        // The spectrogram spans most of the width: 100 columns of 0.1 s.
        let row = screen.lines().nth(5).unwrap();
        assert!(row.chars().filter(|c| " .:-=+*#%@".contains(*c) && *c != ' ').count() >= 90, "{row}");
    }

    #[test]
    fn below_80x24_only_the_spectrogram_and_status_are_drawn() {
        let screen = text(&render(&app("default"), 60, 15));
        assert!(screen.contains("below 80×24") && !screen.contains("Predictions"), "{screen}");
        assert!(screen.contains("? help"));
    }

    #[test]
    fn the_monochrome_theme_uses_no_colour() {
        let mut app = app("monochrome");
        app.show_help = false;
        assert!(!uses_color(&render(&app, 80, 24)));
        assert!(!uses_color(&render(&app, 200, 60)));
        app.show_help = true;
        assert!(!uses_color(&render(&app, 80, 24)));
        assert!(uses_color(&render(&self::app("default"), 80, 24)), "the check can fail");
    }

    #[test]
    fn help_lists_every_key() {
        let mut app = app("default");
        app.show_help = true;
        let screen = text(&render(&app, 80, 24));
        for key in ["space", "tab", "1-4", "chain: b", "q / Esc"] {
            assert!(screen.contains(key), "{key}\n{screen}");
        }
    }
}
