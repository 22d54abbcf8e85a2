/** The version of the `otakit` command (`otakit --version`). */
export const VERSION = '0.1.0';
