"""Audio primitives: G.711 mu-law, resampling and 20 ms framing. Pure functions, no I/O."""
