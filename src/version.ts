/** The product version, reported by `version`, `serve` (seal-status `version`) and `status`. */
export const VERSION = '0.1.0';
