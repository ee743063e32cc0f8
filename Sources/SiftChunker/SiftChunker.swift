// SiftChunker: placeholder until the stage lands.
