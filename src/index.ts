/** The package's main entry: the client SDK (and its types). */
export {};
