//! The scannable code of an activity (葵花码): a QR code of its link, as PNG or SVG.

use qrcode::render::svg;
use qrcode::{Color, QrCode};

use crate::{Error, Result};

/// Pixels per module of the PNG.
const SCALE: usize = 8;
/// The quiet zone around the code, in modules (the standard asks for 4).
const QUIET: usize = 4;

fn code(link: &str) -> Result<QrCode> {
    QrCode::new(link.as_bytes())
        .map_err(|e| Error::Unavailable(format!("the code could not be made: {e}")))
}

/// The code as an 8-bit greyscale PNG, 8 pixels a module with a 4-module margin.
pub fn png(link: &str) -> Result<Vec<u8>> {
    let code = code(link)?;
    let modules = code.width();
    let colors = code.to_colors();
    let side = (modules + 2 * QUIET) * SCALE;
    let mut pixels = vec![255u8; side * side];
    for (i, color) in colors.iter().enumerate() {
        if *color == Color::Dark {
            let (x, y) = ((i % modules + QUIET) * SCALE, (i / modules + QUIET) * SCALE);
            for row in y..y + SCALE {
                pixels[row * side + x..row * side + x + SCALE].fill(0);
            }
        }
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side as u32, side as u32);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let written = encoder
        .write_header()
        .and_then(|mut w| w.write_image_data(&pixels));
    written.map_err(|e| Error::Unavailable(format!("the PNG could not be written: {e}")))?;
    Ok(out)
}

/// The code as an SVG document.
pub fn svg(link: &str) -> Result<String> {
    Ok(code(link)?
        .render::<svg::Color<'_>>()
        .min_dimensions(256, 256)
        .quiet_zone(true)
        .build())
}
