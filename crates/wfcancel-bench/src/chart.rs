//! The throughput chart: one horizontal bar per client, drawn with plotters' bitmap backend.
//!
//! Text needs a TrueType font: the first of a few usual paths (DejaVu, Liberation, any `.ttf`
//! under `/usr/share/fonts`) is registered with plotters' `ab_glyph` support. Without one the
//! bars are drawn alone (the figures are in the table anyway).

use std::path::{Path, PathBuf};

use plotters::prelude::*;
use plotters::style::FontStyle;

/// Who a bar belongs to (its colour).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Raw reqwest: the limit.
    Raw,
    /// wfcancel.
    Wfcancel,
    /// An official client.
    Official,
}

impl Kind {
    fn colour(self) -> RGBColor {
        match self {
            Kind::Raw => RGBColor(140, 140, 140),
            Kind::Wfcancel => RGBColor(31, 119, 180),
            Kind::Official => RGBColor(255, 127, 14),
        }
    }
}

/// One bar.
#[derive(Debug, Clone)]
pub struct Bar {
    /// Label left of the bar.
    pub label: String,
    /// Cancels per second.
    pub value: f64,
    /// Colour.
    pub kind: Kind,
    /// Starts a new group (a gap above it).
    pub group_start: bool,
    /// Shown after the value, e.g. `0.92 of the limit`.
    pub note: String,
}

const FONT: &str = "bench-sans";

fn find_font() -> Option<PathBuf> {
    let known = [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
        "/usr/share/fonts/TTF/DejaVuSans.ttf",
        "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    ];
    if let Some(p) = known.iter().map(Path::new).find(|p| p.is_file()) {
        return Some(p.to_path_buf());
    }
    // Any .ttf, two levels down at most (bounded walk).
    let mut dirs = vec![(PathBuf::from("/usr/share/fonts"), 0)];
    while let Some((dir, depth)) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() && depth < 3 {
                dirs.push((p, depth + 1));
            } else if p.extension().is_some_and(|x| x.eq_ignore_ascii_case("ttf")) {
                return Some(p);
            }
        }
    }
    None
}

/// Registers a font once; answers whether text can be drawn.
fn register() -> bool {
    static OK: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *OK.get_or_init(|| {
        let Some(path) = find_font() else { return false };
        let Ok(bytes) = std::fs::read(path) else { return false };
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        plotters::style::register_font(FONT, FontStyle::Normal, bytes).is_ok()
    })
}

/// Draws the chart into `path` (PNG). Answers whether text was drawn.
pub fn draw(path: &Path, title: &str, subtitle: &str, bars: &[Bar]) -> Result<bool, String> {
    let text = register();
    let row_h = 46u32;
    let groups = bars.iter().filter(|b| b.group_start).count() as u32;
    let width = 1200u32;
    let height = 110 + row_h * bars.len() as u32 + 18 * groups + 40;
    let root = BitMapBackend::new(path, (width, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let left = 430i32;
    let right_pad = 300i32;
    let max = bars.iter().map(|b| b.value).fold(0.0f64, f64::max).max(1.0);
    let span = f64::from(width as i32 - left - right_pad);
    if text {
        let t = TextStyle::from((FONT, 26).into_font()).color(&BLACK);
        root.draw(&Text::new(title.to_owned(), (20, 16), t))
            .map_err(|e| e.to_string())?;
        let s = TextStyle::from((FONT, 17).into_font()).color(&RGBColor(80, 80, 80));
        root.draw(&Text::new(subtitle.to_owned(), (20, 52), s))
            .map_err(|e| e.to_string())?;
    }
    let mut y = 96i32;
    for b in bars {
        if b.group_start {
            y += 18;
        }
        let w = ((b.value / max) * span).round().max(1.0) as i32;
        let top = y + 6;
        let bottom = y + row_h as i32 - 8;
        root.draw(&Rectangle::new(
            [(left, top), (left + w, bottom)],
            b.kind.colour().filled(),
        ))
        .map_err(|e| e.to_string())?;
        if text {
            let label = TextStyle::from((FONT, 18).into_font()).color(&BLACK);
            root.draw(&Text::new(b.label.clone(), (20, top + 6), label))
                .map_err(|e| e.to_string())?;
            let value = TextStyle::from((FONT, 18).into_font()).color(&BLACK);
            root.draw(&Text::new(
                if b.note.is_empty() {
                    format!("{} /s", crate::report::thousands(b.value))
                } else {
                    format!("{} /s  ({})", crate::report::thousands(b.value), b.note)
                },
                (left + w + 10, top + 6),
                value,
            ))
            .map_err(|e| e.to_string())?;
        }
        y += row_h as i32;
    }
    // Axis line at zero.
    root.draw(&PathElement::new(
        vec![(left, 96), (left, y + 4)],
        BLACK.stroke_width(2),
    ))
    .map_err(|e| e.to_string())?;
    if text {
        let legend = [
            (Kind::Raw, "raw reqwest (the limit)"),
            (Kind::Wfcancel, "wfcancel"),
            (Kind::Official, "official client"),
        ];
        let mut x = 20i32;
        let ly = y + 14;
        for (kind, name) in legend {
            root.draw(&Rectangle::new([(x, ly), (x + 18, ly + 18)], kind.colour().filled()))
                .map_err(|e| e.to_string())?;
            let s = TextStyle::from((FONT, 17).into_font()).color(&BLACK);
            root.draw(&Text::new(name.to_owned(), (x + 26, ly), s))
                .map_err(|e| e.to_string())?;
            x += 60 + 10 * name.len() as i32;
        }
    }
    root.present().map_err(|e| e.to_string())?;
    Ok(text)
}
