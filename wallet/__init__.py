"""certfree wallet: the holder side. Stores licences and the device key, builds fresh
presentations for a scenario, and renders QR codes (PNG and SVG)."""

from .present import Presentation, choose, holder_proof, present, present_view
from .qr import png_bytes, svg_bytes, version, write
from .store import WALLET_PASSPHRASE_ENV, StoredLicence, Wallet, WalletError

__all__ = [
    "Wallet",
    "WalletError",
    "StoredLicence",
    "WALLET_PASSPHRASE_ENV",
    "Presentation",
    "present",
    "present_view",
    "holder_proof",
    "choose",
    "png_bytes",
    "svg_bytes",
    "version",
    "write",
]
