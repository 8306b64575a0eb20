//! Themes (themes/*.toml) and the terminal's colour depth.
//!
//! A theme names its colours in hex; they are mapped down to what the
//! terminal can show (truecolor, the 256-colour cube, the 16 ANSI colours,
//! or none). NO_COLOR, a dumb terminal or the monochrome theme give no
//! colour at all: the spectrogram is then drawn with characters only.

use std::path::{Path, PathBuf};

use ratatui::style::Color;
use serde::Deserialize;

/// The themes shipped in themes/, built in so the binary works anywhere.
pub const BUILT_IN: [(&str, &str); 3] = [
    ("default", include_str!("../../themes/default.toml")),
    ("high-contrast", include_str!("../../themes/high-contrast.toml")),
    ("monochrome", include_str!("../../themes/monochrome.toml")),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorDepth {
    None,
    Ansi16,
    Ansi256,
    TrueColor,
}

impl ColorDepth {
    /// From the environment: NO_COLOR (any value) wins, then COLORTERM,
    /// then TERM.
    pub fn detect() -> ColorDepth {
        Self::from_env(|k| std::env::var(k).ok())
    }

    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> ColorDepth {
        if var("NO_COLOR").is_some_and(|v| !v.is_empty()) {
            return ColorDepth::None;
        }
        let colorterm = var("COLORTERM").unwrap_or_default().to_ascii_lowercase();
        if colorterm == "truecolor" || colorterm == "24bit" {
            return ColorDepth::TrueColor;
        }
        let term = var("TERM").unwrap_or_default();
        if term.is_empty() || term == "dumb" {
            ColorDepth::None
        } else if term.contains("256color") {
            ColorDepth::Ansi256
        } else {
            ColorDepth::Ansi16
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ColorDepth::None => "no colour",
            ColorDepth::Ansi16 => "16 colours",
            ColorDepth::Ansi256 => "256 colours",
            ColorDepth::TrueColor => "truecolor",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ThemeError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// toml's message already gives the line and column.
    #[error("{}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("theme \"{name}\" not found: not a file, and not one of {builtin}")]
    NotFound { name: String, builtin: String },
    #[error(transparent)]
    Untrusted(#[from] crate::trust::TrustError),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    name: String,
    #[serde(default)]
    monochrome: bool,
    #[serde(default)]
    colors: Option<ColorsFile>,
    #[serde(default)]
    spectrogram: Option<SpectrogramFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ColorsFile {
    text: Hex,
    dim: Hex,
    border: Hex,
    focus: Hex,
    accent: Hex,
    fault: Hex,
    recording: Hex,
    cycle: Hex,
    spectrogram: Vec<Hex>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpectrogramFile {
    ramp: String,
}

/// `#rrggbb`, checked while parsing so the error has the line.
#[derive(Debug, Clone, Copy)]
struct Hex([u8; 3]);

impl<'de> Deserialize<'de> for Hex {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_hex(&s).map(Hex).ok_or_else(|| serde::de::Error::custom(format!("{s:?} is not a colour like \"#ff8800\"")))
    }
}

fn parse_hex(s: &str) -> Option<[u8; 3]> {
    let h = s.strip_prefix('#')?;
    if h.len() != 6 || !h.is_ascii() {
        return None;
    }
    let byte = |i: usize| u8::from_str_radix(&h[i..i + 2], 16).ok();
    Some([byte(0)?, byte(2)?, byte(4)?])
}

/// A theme resolved for one terminal.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: String,
    pub depth: ColorDepth,
    pub text: Color,
    pub dim: Color,
    pub border: Color,
    pub focus: Color,
    pub accent: Color,
    pub fault: Color,
    pub recording: Color,
    pub cycle: Color,
    /// Gradient stops, quiet to loud (empty without colour).
    gradient: Vec<[u8; 3]>,
    /// Characters, quiet to loud.
    pub ramp: Vec<char>,
}

impl Theme {
    /// Loads a built-in theme by name, or a theme file by path.
    pub fn load(name_or_path: &str, depth: ColorDepth) -> Result<Theme, ThemeError> {
        if let Some((_, text)) = BUILT_IN.iter().find(|(n, _)| *n == name_or_path) {
            return Self::parse(Path::new(&format!("themes/{name_or_path}.toml")), text, depth);
        }
        let path = Path::new(name_or_path);
        if path.is_file() {
            crate::trust::check_private(path, "theme")?;
            let text = std::fs::read_to_string(path).map_err(|source| ThemeError::Io { path: path.into(), source })?;
            return Self::parse(path, &text, depth);
        }
        Err(ThemeError::NotFound { name: name_or_path.into(), builtin: BUILT_IN.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ") })
    }

    pub fn parse(path: &Path, text: &str, depth: ColorDepth) -> Result<Theme, ThemeError> {
        let file: ThemeFile =
            toml::from_str(text).map_err(|e| ThemeError::Parse { path: path.into(), message: e.to_string().trim_end().replace('\n', " ") })?;
        let ramp: Vec<char> = file.spectrogram.map_or_else(|| " .:-=+*#%@".chars().collect(), |s| s.ramp.chars().collect());
        if ramp.len() < 2 {
            return Err(ThemeError::Parse { path: path.into(), message: "spectrogram.ramp needs at least two characters".into() });
        }
        let depth = if file.monochrome { ColorDepth::None } else { depth };
        let colors = match (&file.colors, depth) {
            (Some(c), d) if d != ColorDepth::None => Some(c),
            (None, d) if d != ColorDepth::None && !file.monochrome => {
                return Err(ThemeError::Parse { path: path.into(), message: "a theme needs a [colors] table unless monochrome = true".into() })
            }
            _ => None,
        };
        let pick = |f: fn(&ColorsFile) -> Hex| colors.map_or(Color::Reset, |c| to_color(f(c).0, depth));
        let gradient = colors.map_or_else(Vec::new, |c| c.spectrogram.iter().map(|h| h.0).collect());
        if colors.is_some() && gradient.len() < 2 {
            return Err(ThemeError::Parse { path: path.into(), message: "colors.spectrogram needs at least two colours".into() });
        }
        Ok(Theme {
            name: file.name,
            depth,
            text: pick(|c| c.text),
            dim: pick(|c| c.dim),
            border: pick(|c| c.border),
            focus: pick(|c| c.focus),
            accent: pick(|c| c.accent),
            fault: pick(|c| c.fault),
            recording: pick(|c| c.recording),
            cycle: pick(|c| c.cycle),
            gradient,
            ramp,
        })
    }

    pub fn has_color(&self) -> bool {
        self.depth != ColorDepth::None
    }

    /// The character and colour for a level in [0, 1].
    pub fn level(&self, level: f32) -> (char, Color) {
        let level = if level.is_finite() { level.clamp(0.0, 1.0) } else { 0.0 };
        let i = ((level * (self.ramp.len() - 1) as f32).round() as usize).min(self.ramp.len() - 1);
        let color = if self.gradient.is_empty() {
            Color::Reset
        } else {
            let x = level * (self.gradient.len() - 1) as f32;
            let k = (x.floor() as usize).min(self.gradient.len() - 2);
            let t = x - k as f32;
            let (a, b) = (self.gradient[k], self.gradient[k + 1]);
            let mix = |i: usize| (f32::from(a[i]) + (f32::from(b[i]) - f32::from(a[i])) * t).round() as u8;
            to_color([mix(0), mix(1), mix(2)], self.depth)
        };
        (self.ramp[i], color)
    }
}

/// Maps a colour down to the terminal's depth.
fn to_color(rgb: [u8; 3], depth: ColorDepth) -> Color {
    let [r, g, b] = rgb;
    match depth {
        ColorDepth::None => Color::Reset,
        ColorDepth::TrueColor => Color::Rgb(r, g, b),
        ColorDepth::Ansi256 => {
            // The 6×6×6 cube (16..=231) or the grey ramp (232..=255).
            let level = |v: u8| -> u8 {
                if v < 48 {
                    0
                } else if v < 115 {
                    1
                } else {
                    (v - 35) / 40
                }
            };
            let (cr, cg, cb) = (level(r), level(g), level(b));
            let cube = 16 + 36 * cr + 6 * cg + cb;
            let grey_avg = (u16::from(r) + u16::from(g) + u16::from(b)) / 3;
            let is_grey = r.abs_diff(g) < 10 && g.abs_diff(b) < 10;
            if is_grey && grey_avg > 8 && grey_avg < 238 {
                Color::Indexed(232 + ((grey_avg - 8) / 10).min(23) as u8)
            } else {
                Color::Indexed(cube)
            }
        }
        ColorDepth::Ansi16 => {
            const ANSI: [(Color, [u8; 3]); 16] = [
                (Color::Black, [0, 0, 0]),
                (Color::Red, [170, 0, 0]),
                (Color::Green, [0, 170, 0]),
                (Color::Yellow, [170, 85, 0]),
                (Color::Blue, [0, 0, 170]),
                (Color::Magenta, [170, 0, 170]),
                (Color::Cyan, [0, 170, 170]),
                (Color::Gray, [170, 170, 170]),
                (Color::DarkGray, [85, 85, 85]),
                (Color::LightRed, [255, 85, 85]),
                (Color::LightGreen, [85, 255, 85]),
                (Color::LightYellow, [255, 255, 85]),
                (Color::LightBlue, [85, 85, 255]),
                (Color::LightMagenta, [255, 85, 255]),
                (Color::LightCyan, [85, 255, 255]),
                (Color::White, [255, 255, 255]),
            ];
            let dist = |c: [u8; 3]| -> u32 { (0..3).map(|i| u32::from(c[i].abs_diff(rgb[i])).pow(2)).sum() };
            ANSI.iter().min_by_key(|(_, c)| dist(*c)).map_or(Color::Reset, |(color, _)| *color)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_themes_load_at_every_depth() {
        for (name, _) in BUILT_IN {
            for depth in [ColorDepth::None, ColorDepth::Ansi16, ColorDepth::Ansi256, ColorDepth::TrueColor] {
                let theme = Theme::load(name, depth).unwrap();
                assert_eq!(theme.has_color(), depth != ColorDepth::None && name != "monochrome", "{name} {depth:?}");
            }
        }
    }

    #[test]
    fn a_bad_theme_names_the_file_and_line() {
        let text = "name = \"x\"\n[colors]\ntext = \"#d0d0d0\"\nborder = \"blue\"\n";
        let err = Theme::parse(Path::new("themes/x.toml"), text, ColorDepth::TrueColor).unwrap_err().to_string();
        assert!(err.contains("themes/x.toml") && err.contains("line 4"), "{err}");
        let err = Theme::parse(Path::new("t.toml"), "name = \"x\"\nmonochrome = true\ncolour = 3\n", ColorDepth::TrueColor).unwrap_err().to_string();
        assert!(err.contains("line 3") && err.contains("colour"), "{err}");
    }

    #[test]
    fn a_theme_file_others_can_write_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mine.toml");
        std::fs::write(&path, BUILT_IN[0].1).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let file = path.to_str().unwrap();
        assert!(Theme::load(file, ColorDepth::TrueColor).is_ok());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        let err = Theme::load(file, ColorDepth::TrueColor).expect_err("a world-writable theme loads").to_string();
        assert!(err.contains(file) && err.contains("theme") && err.contains("world-writable"), "{err}");
    }

    #[test]
    fn colour_depth_follows_the_environment() {
        let env = |pairs: &'static [(&'static str, &'static str)]| move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string());
        assert_eq!(ColorDepth::from_env(env(&[("TERM", "xterm-256color"), ("NO_COLOR", "1")])), ColorDepth::None);
        assert_eq!(ColorDepth::from_env(env(&[("TERM", "xterm-256color"), ("COLORTERM", "truecolor")])), ColorDepth::TrueColor);
        assert_eq!(ColorDepth::from_env(env(&[("TERM", "tmux-256color")])), ColorDepth::Ansi256);
        assert_eq!(ColorDepth::from_env(env(&[("TERM", "xterm")])), ColorDepth::Ansi16);
        assert_eq!(ColorDepth::from_env(env(&[("TERM", "dumb")])), ColorDepth::None);
    }

    #[test]
    fn levels_run_through_the_ramp_and_the_gradient() {
        let theme = Theme::load("default", ColorDepth::TrueColor).unwrap();
        assert_eq!(theme.level(0.0), (' ', Color::Rgb(0, 0, 4)));
        assert_eq!(theme.level(1.0), ('@', Color::Rgb(0xfc, 0xfd, 0xbf)));
        assert_eq!(theme.level(f32::NAN).0, ' ');
        let mono = Theme::load("monochrome", ColorDepth::TrueColor).unwrap();
        assert_eq!(mono.level(0.5).1, Color::Reset);
    }
}
