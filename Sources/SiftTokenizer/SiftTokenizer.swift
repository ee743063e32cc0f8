// SiftTokenizer: placeholder until the stage lands.
