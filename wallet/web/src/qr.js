// Drawing a QR code on a canvas, crisp: whole device pixels per module, a 4-module quiet
// zone, error correction M in alphanumeric mode, as wallet/qr.py makes it with segno.

import qrcode from "qrcode-generator";

export const QUIET = 4;

/** The QR symbol for text: {version, size, dark(row, col)}. */
export function symbol(text) {
  const qr = qrcode(0, "M");
  qr.addData(text, "Alphanumeric");
  qr.make();
  const size = qr.getModuleCount();
  return { version: (size - 17) / 4, size, dark: (r, c) => qr.isDark(r, c) };
}

/** Draw text's code on canvas, as wide as cssWidth allows; returns the symbol. */
export function draw(canvas, text, cssWidth) {
  const sym = symbol(text);
  const ratio = window.devicePixelRatio || 1;
  const modules = sym.size + 2 * QUIET;
  const unit = Math.max(1, Math.floor((cssWidth * ratio) / modules));
  const side = unit * modules;
  canvas.width = side;
  canvas.height = side;
  canvas.style.width = `${side / ratio}px`;
  canvas.style.height = `${side / ratio}px`;
  const g = canvas.getContext("2d");
  g.fillStyle = "#fff";
  g.fillRect(0, 0, side, side);
  g.fillStyle = "#000";
  for (let r = 0; r < sym.size; r++) {
    for (let c = 0; c < sym.size; c++) {
      if (sym.dark(r, c)) g.fillRect((c + QUIET) * unit, (r + QUIET) * unit, unit, unit);
    }
  }
  canvas.dataset.version = String(sym.version);
  return sym;
}
