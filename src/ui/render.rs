//! Drawing the UI from its state. Pure: state in, cells out, so the
//! layout is tested with ratatui's TestBackend.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget, Wrap};
use ratatui::Frame;

use super::app::{label_name, App, Mark, Mode, Panel, Prompt, FRAMES_PER_S};
use super::keymap;

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
    let message = message_lines(app, area.width);
    let [main, message_area, status] = Layout::vertical([Constraint::Min(1), Constraint::Length(message.len() as u16), Constraint::Length(1)]).areas(area);
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        spectrogram(frame, main, app, true);
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
    }
    frame.render_widget(Paragraph::new(message), message_area);
    status_line(frame, status, app);
    if app.show_help {
        help(frame, area, app);
    } else if let Some(Prompt::Location(text)) = &app.prompt {
        popup(frame, area, app, "Chest location", &[format!("{text}_"), "Enter: set   Esc: cancel".into()]);
    } else if app.confirm_quit && app.recording() {
        popup(frame, area, app, "Recording in progress", &["q: stop, save and quit".into(), "any other key: keep recording".into()]);
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
    if app.paused() {
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
        let mel = &app.shown().mel;
        let frames = mel.len();
        let columns = (frames / FRAMES_PER_COLUMN).min(w);
        // Loudest bin in view sets the top of the range.
        let first = frames - columns * FRAMES_PER_COLUMN;
        let top = mel.range(first..).flat_map(|f| f.iter().copied()).fold(f32::MIN, f32::max);
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
                for frame in mel.range(start..start + FRAMES_PER_COLUMN) {
                    for &v in &frame[lo..hi] {
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
    let shown = app.shown();
    let columns = (shown.envelope.len() / per_col).min(w);
    let first = shown.envelope.len() - columns * per_col;
    let peaks: Vec<f32> = (0..columns).map(|c| shown.envelope.range(first + c * per_col..first + (c + 1) * per_col).fold(0.0f32, |a, &b| a.max(b))).collect();
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
    let view_start_s = shown.now_s - (columns * per_col) as f64 / FRAMES_PER_S;
    let marked = if app.mode == Mode::Heart { Mark::Beat } else { Mark::Cycle };
    for cycle in app.cycles.iter().filter(|c| c.kind == marked) {
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
                let style =
                    if k == app.selected_param { Style::default().fg(theme.focus).add_modifier(Modifier::BOLD) } else { Style::default().fg(theme.text) };
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
        let text = match c.kind {
            Mark::Beat => format!("beat {:>4}  S1 at {:>7.2} s   {:>5.0} bpm{verdict}", c.number, c.start_s, c.bpm.unwrap_or(f32::NAN)),
            Mark::Window => format!("window {:>3}  {:>17}{verdict}", c.number, format!("{:.2}–{:.2} s", c.start_s, c.end_s)),
            Mark::Cycle => format!(
                "cycle {:>3}  {:>17}  {:>4.1} s   label: {}{verdict}",
                c.number,
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

/// The message line: the latest message (for a few seconds) or the start-up
/// notice, wrapped onto a second row when it is longer than the screen is
/// wide, so that it can be read whole at 80 columns; else a key hint.
fn message_lines(app: &App, width: u16) -> Vec<Line<'static>> {
    let theme = &app.theme;
    let width = usize::from(width.max(1));
    let Some(text) = app.current_message() else {
        let hint = "r record · s stop · 1-4 label · l location · tab panels · ? help · q quit";
        return vec![Line::styled(hint.chars().take(width).collect::<String>(), Style::default().fg(theme.dim))];
    };
    let style = Style::default().fg(theme.focus);
    let mut rows = wrap(&text, width);
    if rows.len() > 2 {
        // The rest is in the help overlay (`?`), which lists every notice.
        rows.truncate(2);
        let last = &mut rows[1];
        while last.chars().count() + 9 > width && last.pop().is_some() {}
        last.push_str(" … (? all)");
    }
    rows.into_iter().map(|r| Line::styled(r, style)).collect()
}

/// Splits `text` into rows of at most `width` characters, at spaces where
/// it can.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut rows = vec![String::new()];
    for word in text.split(' ') {
        let row = rows.last_mut().expect("never empty");
        let (have, need) = (row.chars().count(), word.chars().count());
        if have > 0 && have + 1 + need <= width {
            row.push(' ');
            row.push_str(word);
        } else if have == 0 && need <= width {
            row.push_str(word);
        } else {
            let mut chars: Vec<char> = word.chars().collect();
            if have > 0 {
                rows.push(String::new());
            }
            while chars.len() > width {
                let rest = chars.split_off(width);
                rows.last_mut().expect("never empty").extend(chars);
                rows.push(String::new());
                chars = rest;
            }
            rows.last_mut().expect("never empty").extend(chars);
        }
    }
    rows
}

/// The status line, laid out by priority: the source's state, the
/// recording time and overruns are shown at any width; the rest only
/// where it fits whole.
fn status_line(frame: &mut Frame, area: Rect, app: &App) {
    let theme = &app.theme;
    let name = std::path::Path::new(&app.source.name).file_name().map_or(app.source.name.clone(), |n| n.to_string_lossy().into_owned());
    // (priority: lower is kept first, span); drawn in this order.
    let mut fields: Vec<(u8, Span)> = vec![(0, Span::styled(if app.paused() { "‖ " } else { "▶ " }, Style::default().fg(theme.accent)))];
    if app.recording() {
        let secs = app.status.recording.unwrap_or(0.0) as u64;
        let rec = format!("● REC {:02}:{:02} ", secs / 60, secs % 60);
        fields.push((0, Span::styled(rec, Style::default().fg(theme.recording).add_modifier(Modifier::BOLD))));
    }
    if let Some(state) = &app.status.source_state {
        fields.push((1, Span::styled(format!("{state} "), Style::default().fg(theme.fault))));
    }
    let overruns_style = if app.status.overruns > 0 { Style::default().fg(theme.fault) } else { Style::default().fg(theme.dim) };
    fields.push((1, Span::styled(format!("│ overruns {} ", app.status.overruns), overruns_style)));
    if app.status.skipped > 0 {
        // Analysis fell behind; the recording did not.
        let secs = app.status.skipped as f64 / f64::from(app.source.sample_rate.max(1));
        fields.push((2, Span::styled(format!("│ behind: {secs:.1} s unanalysed "), Style::default().fg(theme.fault))));
    }
    fields.push((3, Span::styled(format!("│ {} {} ", app.source.kind.as_str(), name), Style::default().fg(theme.text))));
    if let Some(location) = &app.location {
        fields.push((4, Span::styled(format!("│ {location} "), Style::default().fg(theme.text))));
    }
    fields.push((5, Span::styled(format!("│ {:.1} s ", app.status.seconds), Style::default().fg(theme.dim))));
    if let Some(model) = &app.model {
        fields.push((6, Span::styled(format!("│ model: {model} "), Style::default().fg(theme.dim))));
    }
    fields.push((7, Span::styled(format!("│ {} Hz ", app.source.sample_rate), Style::default().fg(theme.dim))));
    // "? help" keeps its place at the right edge.
    let [left, right] = Layout::horizontal([Constraint::Min(1), Constraint::Length(8)]).areas(area);
    let mut room = usize::from(left.width);
    let mut order: Vec<usize> = (0..fields.len()).collect();
    order.sort_by_key(|&i| fields[i].0);
    let mut keep = vec![false; fields.len()];
    for i in order {
        let width = fields[i].1.width();
        if width <= room {
            room -= width;
            keep[i] = true;
        } else if fields[i].0 == 0 {
            // Never dropped: cut instead.
            keep[i] = true;
            room = 0;
        }
    }
    let spans: Vec<Span> = fields.into_iter().zip(keep).filter_map(|((_, span), k)| k.then_some(span)).collect();
    frame.render_widget(Paragraph::new(Line::from(spans)), left);
    frame.render_widget(Paragraph::new(Span::styled(" ? help ", Style::default().fg(theme.focus))).right_aligned(), right);
}

fn help(frame: &mut Frame, area: Rect, app: &App) {
    let mut lines: Vec<String> = keymap::help_lines();
    // Notices and recent messages, whole, wrapped to the overlay's width.
    let width = usize::from(area.width.saturating_sub(4)).max(20);
    let notes: Vec<&String> = app.notice.iter().chain(app.history.iter()).collect();
    if !notes.is_empty() {
        lines.push(String::new());
        lines.push("Messages:".into());
        for note in notes {
            lines.extend(wrap(note, width));
        }
    }
    lines.push(String::new());
    lines.push("any key closes this help".into());
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
        let info = SourceInfo { kind: SourceKind::Replay, name: "samples/kauh-EP109-normal.wav".into(), sample_rate: 4000, channels: 1, format: String::new() };
        let mut app = App::new(info, Theme::load(theme, ColorDepth::TrueColor).unwrap(), Mode::Lung, 16, "out".into());
        // Ten seconds of a rising tone in the mel bands, an envelope, cycles.
        let frames: Vec<f32> = (0..1000).flat_map(|t| (0..16).map(move |m| -80.0 + (m * 4 + t % 50) as f32)).collect();
        app.apply(Update::Mel(frames));
        app.apply(Update::Envelope((0..1000).map(|i| (i as f32 * 0.02).sin().abs()).collect()));
        app.apply(Update::Cycle { number: 1, start_s: 2.0, end_s: 5.5 });
        app.apply(Update::Cycle { number: 2, start_s: 5.5, end_s: 9.0 });
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
        (0..area.height).map(|y| (0..area.width).map(|x| buf[(x, y)].symbol().to_string()).collect::<String>()).collect::<Vec<_>>().join("\n")
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
        // Every binding of the keymap the keys are dispatched through, whole.
        for b in keymap::KEYMAP {
            assert!(screen.contains(b.shown) && screen.contains(b.help), "{} {}\n{screen}", b.shown, b.help);
        }
    }

    #[test]
    fn cycles_keep_their_input_numbers_when_old_rows_are_dropped() {
        let mut app = app("default");
        // 100 s more of input, a cycle every 2.5 s: the first rows age out
        // of the 60 s history.
        for k in 0..40u64 {
            app.apply(Update::Envelope(vec![0.1; 250]));
            let start = 10.0 + k as f64 * 2.5;
            app.apply(Update::Cycle { number: 3 + k, start_s: start, end_s: start + 2.5 });
        }
        assert!(app.cycles.front().unwrap().number > 3, "old rows were dropped");
        let screen = text(&render(&app, 80, 24));
        assert!(screen.contains("cycle  42") && screen.contains("105.00–107.50 s"), "{screen}");
        for row in screen.lines().filter(|l| l.contains("cycle ")) {
            let n: u64 = row.split("cycle ").nth(1).unwrap().split_whitespace().next().unwrap().parse().unwrap();
            let start: f64 = row.split_whitespace().find(|w| w.contains('–')).unwrap().split('–').next().unwrap().parse().unwrap();
            assert_eq!(start, 10.0 + (n - 3) as f64 * 2.5, "{row}");
        }
    }

    #[test]
    fn heart_mode_numbers_beats_and_windows_apart() {
        let mut app = app("default");
        app.mode = Mode::Heart;
        app.model = Some("heart".into());
        app.model_classes = vec!["N".into(), "MR".into()];
        for n in 1..=3 {
            app.apply(Update::Beat { number: n, s1_s: n as f64, bpm: 60.0 });
        }
        app.apply(Update::Prediction { scored: crate::analysis::Scored::Window(1), start_s: 0.0, end_s: 2.5, probabilities: vec![0.9, 0.1] });
        app.apply(Update::Beat { number: 4, s1_s: 4.0, bpm: 60.0 });
        let screen = text(&render(&app, 100, 40));
        for needle in ["beat    3", "beat    4", "window   1", "model: N 0.90"] {
            assert!(screen.contains(needle), "{needle}\n{screen}");
        }
        assert!(!screen.contains("beat    5"), "a window is not a beat\n{screen}");
    }

    /// Columns of the envelope panel's row `row` that hold a cycle marker:
    /// the bars inside the panel, whose top border is two rows up.
    fn markers(buf: &Buffer, row: u16) -> Vec<u16> {
        let right = (1..buf.area.width).find(|&x| buf[(x, row - 2)].symbol() == "┐").unwrap();
        (1..right).filter(|&x| buf[(x, row)].symbol() == "│").collect()
    }

    #[test]
    fn pausing_freezes_the_view_and_keeps_markers_on_their_sound() {
        // 200 columns: the whole 15 s fits (0.1 s a column).
        let (w, h) = (200, 60);
        let mut app = app("default");
        let envelope_row = |buf: &Buffer| (0..h).find(|&y| text_row(buf, y).contains("Envelope")).unwrap() + 2;
        let before = render(&app, w, h);
        let row = envelope_row(&before);
        app.on_key(crossterm::event::KeyEvent::new(crossterm::event::KeyCode::Char(' '), crossterm::event::KeyModifiers::NONE));
        assert!(app.paused());
        // Five seconds go by, with a cycle in them.
        app.apply(Update::Envelope(vec![0.2; 500]));
        app.apply(Update::Cycle { number: 3, start_s: 12.0, end_s: 14.0 });
        let paused = render(&app, w, h);
        assert_eq!(markers(&paused, row), markers(&before, row), "the paused view does not move");
        app.on_key(crossterm::event::KeyEvent::new(crossterm::event::KeyCode::Char(' '), crossterm::event::KeyModifiers::NONE));
        let after = render(&app, w, h);
        // Now 15 s of input: the 12 s cycle is 3 s (30 columns) from the
        // right edge, and the earlier ones moved left by the 5 s that passed.
        let (old, new) = (markers(&before, row), markers(&after, row));
        assert_eq!(new.len(), old.len() + 1, "{old:?} {new:?}");
        for (a, b) in old.iter().zip(&new) {
            assert_eq!(a - b, 50, "{old:?} {new:?}");
        }
    }

    fn text_row(buf: &Buffer, y: u16) -> String {
        (0..buf.area.width).map(|x| buf[(x, y)].symbol().to_string()).collect()
    }

    #[test]
    fn the_status_line_keeps_state_rec_time_and_overruns_at_any_width() {
        let mut app = app("default");
        app.notice = Some("no input device (The requested device is unavailable on this box): replaying samples/kauh-EP109-normal.wav".into());
        app.apply(Update::RecordingStarted("/home/technician/sessions/20261207T101010Z".into()));
        app.status.recording = Some(75.0);
        app.status.overruns = 3;
        app.location = Some("P L M".into());
        for (w, h) in [(80, 24), (100, 30), (60, 15)] {
            let buf = render(&app, w, h);
            let status = text_row(&buf, h - 1);
            assert!(status.contains("● REC 01:15") && status.contains("overruns 3") && status.contains("? help"), "{w}x{h}: {status}");
            // Fields are whole or absent, never cut.
            assert!(!status.contains("│ P L") || status.contains("│ P L M"), "{status}");
            let screen = text(&buf);
            let squashed: String = screen.chars().filter(|c| !c.is_whitespace()).collect();
            assert!(squashed.contains("recordingto/home/technician/sessions/20261207T101010Z"), "{w}x{h}:\n{screen}");
        }
        // Once the message has gone, the notice is on the message line whole.
        app.message = None;
        let screen = text(&render(&app, 80, 24));
        let squashed: String = screen.chars().filter(|c| !c.is_whitespace()).collect();
        assert!(squashed.contains("replayingsamples/kauh-EP109-normal.wav"), "{screen}");
    }

    #[test]
    fn help_lists_the_notice_and_recent_messages_whole() {
        let mut app = app("default");
        app.notice = Some("model heart not loaded: models/heart/card.toml: expected 4 classes".into());
        app.say("parameter high_hz stopped at its limit, 2000.0 Hz: high_hz 2277 is at or above the Nyquist frequency");
        app.show_help = true;
        let buf = render(&app, 100, 40);
        // The overlay's text alone, its rows joined: the message line below
        // holds the latest message too, and must not answer for the overlay.
        let top = (0..40).find(|&y| text_row(&buf, y).contains("┌ Keys")).unwrap();
        let left = (0..100).find(|&x| buf[(x, top)].symbol() == "┌" && buf[(x + 2, top)].symbol() == "K").unwrap();
        let right = (left + 1..100).find(|&x| buf[(x, top)].symbol() == "┐").unwrap();
        let inside: String = (top + 1..40)
            .take_while(|&y| buf[(left, y)].symbol() != "└")
            .flat_map(|y| (left + 1..right).map(move |x| (x, y)))
            .map(|(x, y)| buf[(x, y)].symbol().to_string())
            .collect();
        let squashed: String = inside.chars().filter(|c| !c.is_whitespace()).collect();
        assert!(squashed.contains("expected4classes") && squashed.contains("abovetheNyquistfrequency"), "{inside}");
    }
}
